import { mirrorBotkubeRepository, type BotkubeMirrorResult } from '../botkube/mirror-plugin-index.js';
import { resolveSecret } from '../config/secret-ref.js';
import { mirrorFile, type MirroredFile } from '../files/static-mirror.js';
import { hostAuthorization, type HostAccess } from '../oci/auth.js';
import type { Logger } from '../core/log.js';
import type { CopyProgress } from '../model/progress.js';
import type { MirrorBotkubePayload, MirrorFilePayload } from '../model/file-payloads.js';

export interface FileJobContext {
  engine: HostAccess;
  logger: Logger;
  /** The bytes downloaded, for a progress display or a queued job's progress. */
  progress?: CopyProgress;
}

/** One file (a runtime manifest, a dashboard, a UI plugin tarball) to the static target; the payload is checked already (src/jobs/kinds.ts). */
export async function mirrorFileJob(p: MirrorFilePayload, ctx: FileJobContext): Promise<MirroredFile> {
  // Credentials for the file's host come from registries[] or the environment, never from the URL
  // (the config refuses those); they go to that origin only, not across a redirect.
  let host: string | undefined;
  try {
    host = new URL(p.url).host;
  } catch {
    host = undefined; // mirrorFile names the bad URL
  }
  const headers = host ? hostAuthorization(ctx.engine, host) : {};
  return mirrorFile(ctx.engine, p.url, p.target, {
    ...(p.checksum ? { checksum: p.checksum } : {}),
    ...(headers.authorization ? { headers } : {}),
    ...(ctx.progress ? { progress: ctx.progress } : {}),
  });
}

/** One Botkube plugin repository; per-file failures make the job fail after everything else was copied. */
export async function mirrorBotkubeJob(p: MirrorBotkubePayload, ctx: FileJobContext): Promise<BotkubeMirrorResult> {
  const headers = Object.fromEntries(
    Object.entries(p.headers ?? {}).map(([k, ref]) => [k, resolveSecret(ref, `botkube[${p.name}].headers.${k}`)]),
  );
  const r = await mirrorBotkubeRepository(ctx.engine, p.target, {
    name: p.name,
    indexUrl: p.url,
    headers,
    ...(p.plugins ? { plugins: p.plugins } : {}),
    ...(p.versions ? { versions: p.versions } : {}),
    ...(ctx.progress ? { progress: ctx.progress } : {}),
  });
  ctx.logger.info(
    { repository: p.name, files: r.files.length, failures: r.failures.length },
    'botkube repository mirrored',
  );
  return r;
}
