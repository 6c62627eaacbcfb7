import type * as z from 'zod';
import { mirrorBotkubeRepository, type BotkubeMirrorResult } from '../botkube/mirror-plugin-index.js';
import { resolveSecret } from '../config/secret-ref.js';
import { AirlockError } from '../core/errors.js';
import { mirrorFile, type MirroredFile } from '../files/static-mirror.js';
import { hostAuthorization, type HostAccess } from '../oci/auth.js';
import type { Logger } from '../core/log.js';
import { mirrorBotkubePayload, mirrorFilePayload } from '../model/file-payloads.js';

export interface FileJobContext {
  engine: HostAccess;
  logger: Logger;
}

function check<T>(schema: z.ZodType<T>, payload: unknown, job: string): T {
  const r = schema.safeParse(payload);
  if (!r.success) throw new AirlockError('E_USAGE', `${job} payload invalid: ${r.error.issues[0]?.message ?? 'unknown'}`);
  return r.data;
}

/** One file (a runtime manifest, a dashboard, a UI plugin tarball) to the static target. */
export async function mirrorFileJob(payload: unknown, ctx: FileJobContext): Promise<MirroredFile> {
  const p = check(mirrorFilePayload, payload, 'mirror-file');
  // Credentials for the file's host come from registries[] or the environment, never from the URL
  // (the config refuses those); they go to that origin only, not across a redirect.
  let host: string | undefined;
  try {
    host = new URL(p.url).host;
  } catch {
    host = undefined; // mirrorFile names the bad URL
  }
  const headers = host ? hostAuthorization(ctx.engine, host) : {};
  return mirrorFile(ctx.engine, p.url, p.target, { ...(p.checksum ? { checksum: p.checksum } : {}), ...(headers.authorization ? { headers } : {}) });
}

/** One Botkube plugin repository; per-file failures make the job fail after everything else was copied. */
export async function mirrorBotkubeJob(payload: unknown, ctx: FileJobContext): Promise<BotkubeMirrorResult> {
  const p = check(mirrorBotkubePayload, payload, 'mirror-botkube');
  const headers = Object.fromEntries(Object.entries(p.headers ?? {}).map(([k, ref]) => [k, resolveSecret(ref, `botkube[${p.name}].headers.${k}`)]));
  const r = await mirrorBotkubeRepository(ctx.engine, p.target, { name: p.name, indexUrl: p.url, headers, ...(p.plugins ? { plugins: p.plugins } : {}), ...(p.versions ? { versions: p.versions } : {}) });
  ctx.logger.info({ repository: p.name, files: r.files.length, failures: r.failures.length }, 'botkube repository mirrored');
  return r;
}
