import path from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import type { HttpClient } from '../http/client.js';
import { AirlockError, toAirlockError } from '../core/errors.js';
import { errorFromResponse, getFollowingRedirects, readBuffer } from '../http/client.js';
import { mirrorFile, publicUrl, type MirroredFile, type StaticTarget } from '../files/static-mirror.js';
import { registerSecret } from '../core/secrets.js';
import { writeFileAtomic } from '../core/fs-atomic.js';
import { checkName } from '../core/names.js';
import {
  dependencyUrls,
  parsePluginIndex,
  selectPlugins,
  validatePluginIndex,
  type PluginEntry,
  type PluginIndex,
} from './plugin-index.js';
import fsp from 'node:fs/promises';
import pLimit from 'p-limit';
import type { CopyProgress } from '../model/progress.js';
import type { ItemStatus } from '../model/report.js';

export interface BotkubeMirrorOptions {
  /** Repository name in Botkube's `plugins.repositories` (also the directory of the mirrored index). */
  name: string;
  indexUrl: string;
  headers?: Record<string, string>;
  plugins?: string[];
  versions?: string[];
  concurrency?: number;
  /** The bytes of the files as they arrive, all files of the repository together. */
  progress?: CopyProgress;
}

export interface BotkubeMirrorResult {
  name: string;
  /** Public URL of the mirrored index (null when it was not written). */
  indexUrl: string | null;
  /** `copied` when the index file changed, `unchanged` when it already said the same. */
  indexStatus: Exclude<ItemStatus, 'planned'>;
  files: MirroredFile[];
  failures: AirlockError[];
  /** The Botkube values.yaml snippet that uses the mirror. */
  values: string;
}

/**
 * Whoever resolved the headers registered the whole values; an error body or a log line may carry
 * the token without its `Bearer`/`Basic`/`token` scheme, so the bare token is registered too, and
 * before the first request (the index fetch) so nothing that one reports can leak it.
 */
function registerHeaderTokens(headers: Record<string, string> | undefined): void {
  for (const v of Object.values(headers ?? {})) registerSecret(v.replace(/^(Bearer|Basic|token)\s+/i, ''));
}

/**
 * Mirrors a Botkube plugin repository: validates the index as Botkube does, downloads every
 * selected asset, dependency binary and JSON schema to the static target (checksums verified where
 * the index has them, recorded where it does not), and writes the rewritten index only when every
 * file arrived, so the previous index stays served until a complete one replaces it.
 */
export async function mirrorBotkubeRepository(
  engine: { http: HttpClient },
  target: StaticTarget,
  options: BotkubeMirrorOptions,
): Promise<BotkubeMirrorResult> {
  const artifact = options.indexUrl;
  // The name is the index's directory under the target: checked here too, for payloads from the queue.
  checkName('path-segment', options.name, { field: 'Botkube repository name', artifact, code: 'E_USAGE' });
  registerHeaderTokens(options.headers);
  const res = await getFollowingRedirects(engine.http, options.indexUrl, options.headers ?? {}, artifact, {
    kind: 'index',
  });
  if (res.statusCode !== 200) throw await errorFromResponse(res, 'fetching the plugin index failed', artifact);
  const index = parsePluginIndex((await readBuffer(res, 64 * 1024 * 1024, artifact)).toString('utf8'), artifact);
  const problems = validatePluginIndex(index);
  if (problems.length > 0) {
    throw new AirlockError(
      'E_UNSUPPORTED',
      `plugin index is invalid (Botkube would refuse it): ${problems.join('; ')}`,
      { artifact },
    );
  }
  const selected = selectPlugins(index, options.plugins, options.versions);
  if (selected.length === 0)
    throw new AirlockError('E_NOT_FOUND', `no plugin matches ${options.plugins?.join(', ')}`, { artifact });

  const limit = pLimit(options.concurrency ?? 4);
  const files: MirroredFile[] = [];
  const failures: AirlockError[] = [];
  const done = new Map<string, Promise<MirroredFile | undefined>>();
  const copy = (url: string, checksum: string | undefined, what: string): Promise<MirroredFile | undefined> => {
    const key = `${url} ${checksum ?? ''}`;
    let p = done.get(key);
    if (!p) {
      p = limit(async () => {
        try {
          const sameOrigin = new URL(url).origin === new URL(options.indexUrl).origin;
          // Plugin assets sit at versioned URLs the index pins: a copy already there is not asked for again.
          const f = await mirrorFile(engine, url, target, {
            revalidate: false,
            ...(checksum ? { checksum } : {}),
            ...(sameOrigin && options.headers ? { headers: options.headers } : {}),
            ...(options.progress ? { progress: options.progress } : {}),
          });
          files.push(f);
          return f;
        } catch (e) {
          const err = toAirlockError(e, url);
          // The file is the artifact; the message says which plugin needed it.
          failures.push(
            new AirlockError(err.code, `${what}: ${err.message}`, {
              artifact: err.artifact ?? url,
              cause: err,
              ...(err.status ? { status: err.status } : {}),
            }),
          );
          return undefined;
        }
      });
      done.set(key, p);
    }
    return p;
  };

  const rewritten: PluginEntry[] = await Promise.all(
    selected.map(async (e) => {
      const what = `${e.type}/${e.name}@${e.version}`;
      const urls = await Promise.all(
        e.urls.map(async (u) => {
          const f = await copy(u.url, u.checksum, what);
          const deps = await Promise.all(
            dependencyUrls(u).map(async ([dep, d]) => {
              const df = await copy(String(d.url), undefined, `${what} dependency ${dep}`);
              return [dep, { ...d, url: df?.url ?? d.url }] as const;
            }),
          );
          const scalars = Object.entries(u.dependencies ?? {}).filter(([, v]) => !v || typeof v !== 'object');
          return {
            ...u,
            url: f?.url ?? u.url,
            // Botkube verifies what the index says; a checksum the upstream left out is recorded here.
            ...(f ? { checksum: u.checksum ?? f.sha256 } : {}),
            ...(u.dependencies ? { dependencies: Object.fromEntries([...deps, ...scalars]) } : {}),
          };
        }),
      );
      const out: PluginEntry = { ...e, urls };
      const ref = e.jsonSchema?.refURL;
      if (ref) {
        const f = await copy(ref, undefined, `${what} jsonSchema`);
        out.jsonSchema = { ...e.jsonSchema, refURL: f?.url ?? ref };
      }
      const payloadRef = e.externalRequest?.payload?.jsonSchema?.refURL;
      if (payloadRef) {
        const f = await copy(payloadRef, undefined, `${what} externalRequest schema`);
        out.externalRequest = {
          ...e.externalRequest,
          payload: {
            ...e.externalRequest?.payload,
            jsonSchema: { ...e.externalRequest?.payload?.jsonSchema, refURL: f?.url ?? payloadRef },
          },
        };
      }
      return out;
    }),
  );

  const indexPath = `${options.name}/plugins-index.yaml`;
  const indexPublicUrl = publicUrl(target, indexPath);
  let written: string | null = null;
  let indexStatus: BotkubeMirrorResult['indexStatus'] = 'failed';
  if (failures.length === 0) {
    const text = stringifyYaml({ ...index, entries: rewritten } satisfies PluginIndex, { lineWidth: 0 });
    const file = path.join(target.dir, indexPath);
    const previous = await fsp.readFile(file, 'utf8').catch(() => undefined);
    indexStatus = previous === text ? 'unchanged' : 'copied';
    if (indexStatus === 'copied') {
      await fsp.mkdir(path.dirname(file), { recursive: true });
      await writeFileAtomic(file, text);
    }
    written = indexPublicUrl;
  }
  const values = stringifyYaml({ plugins: { repositories: { [options.name]: { url: indexPublicUrl } } } });
  return {
    name: options.name,
    indexUrl: written,
    indexStatus,
    files: files.sort((a, b) => a.path.localeCompare(b.path)),
    failures,
    values,
  };
}
