import { Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { AirlockError } from '../core/errors.js';

/**
 * Gzipped tar archives (charts, addon packages) on tar-stream: read as a stream with caps on the
 * expanded size and the number of entries, so a small archive cannot make airlock hold gigabytes
 * (a tar bomb fails once it passes the cap, not after it was inflated); PAX and GNU records and
 * link entries are handled by the library as the rest of the ecosystem reads them. tar-stream is
 * loaded with the first archive: a run without charts or addons never loads it.
 */
export interface TarEntry {
  path: string;
  data: Buffer;
}

export interface TarLimits {
  /** Bytes the archive may expand to (the tar stream, headers included). */
  maxBytes: number;
  /** Entries of any type (files, directories, links, extended headers excluded). */
  maxEntries: number;
}

const MiB = 1024 * 1024;

/** Helm's own cap on what a chart expands to (helm/helm pkg/chart/loader/archive.go MaxDecompressedChartSize). */
export const DEFAULT_TAR_LIMITS: TarLimits = { maxBytes: 100 * MiB, maxEntries: 10_000 };

/**
 * What is left of the limits, shared by the archives of one chart: a chart's packed subcharts
 * expand within its own budget, so nesting cannot multiply the cap.
 */
export interface TarBudget {
  readonly limits: TarLimits;
  bytes: number;
  entries: number;
}

export function tarBudget(limits: Partial<TarLimits> = {}): TarBudget {
  const full = { ...DEFAULT_TAR_LIMITS, ...limits };
  return { limits: full, bytes: full.maxBytes, entries: full.maxEntries };
}

export type TarProblem = 'gzip' | 'tar' | 'too-large' | 'too-many';

export class TarError extends Error {
  constructor(
    readonly problem: TarProblem,
    message: string,
  ) {
    super(message);
    this.name = 'TarError';
  }
}

/** `expands past 100 MiB`, `has more than 10000 entries`: the cause, for the caller to prefix with the archive's kind. */
function limitError(problem: 'too-large' | 'too-many', limits: TarLimits): TarError {
  if (problem === 'too-many') return new TarError('too-many', `has more than ${limits.maxEntries} entries`);
  const size = limits.maxBytes % MiB === 0 ? `${limits.maxBytes / MiB} MiB` : `${limits.maxBytes} bytes`;
  return new TarError('too-large', `expands past ${size}`);
}

/** A TarError as the one-line error of an archive of some kind (`chart archive`), naming it; anything else unchanged. */
export function archiveError(e: unknown, kind: string, artifact: string): unknown {
  if (!(e instanceof TarError)) return e;
  if (e.problem === 'gzip') return new AirlockError('E_UNSUPPORTED', `${kind} is ${e.message}`, { artifact });
  if (e.problem === 'tar')
    return new AirlockError('E_UNSUPPORTED', `${kind} is not a valid tar: ${e.message}`, { artifact });
  return new AirlockError('E_TOO_LARGE', `${kind} ${e.message}`, { artifact });
}

async function tarStream() {
  return import('tar-stream');
}

export interface ReadTarOptions {
  /** Which regular files to keep (by path as written in the archive); the others are read past. Default all. */
  keep?: (path: string) => boolean;
  budget?: TarBudget;
}

/**
 * The regular files of a `.tgz`, in archive order (directories, links and devices carry no data
 * and are left out). Throws a TarError: not gzip, not a tar, past the budget.
 */
export async function readTarGz(tgz: Buffer, options: ReadTarOptions = {}): Promise<TarEntry[]> {
  const { extract } = await tarStream();
  const budget = options.budget ?? tarBudget();
  const keep = options.keep ?? (() => true);
  // V7 archives (no ustar magic) are still tar; Go's archive/tar, which Helm uses, reads them.
  const ex = extract({ allowUnknownFormat: true } as Parameters<typeof extract>[0]);
  const gunzip = createGunzip();
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      budget.bytes -= chunk.length;
      callback(budget.bytes < 0 ? limitError('too-large', budget.limits) : null, chunk);
    },
  });
  gunzip.on('error', (e: Error) =>
    ex.destroy(e instanceof TarError ? e : new TarError('gzip', `not gzip data (${e.message})`)),
  );
  counter.on('error', (e: Error) => ex.destroy(e));
  gunzip.pipe(counter).pipe(ex);
  gunzip.end(tgz);

  const files: TarEntry[] = [];
  try {
    for await (const entry of ex) {
      const { header } = entry;
      if (--budget.entries < 0) throw limitError('too-many', budget.limits);
      // The size a header announces is refused before any of it is inflated.
      if (header.size > budget.bytes) throw limitError('too-large', budget.limits);
      const regular = header.type === 'file' || header.type === 'contiguous-file';
      const wanted = regular && keep(header.name);
      const chunks: Buffer[] = [];
      for await (const chunk of entry) if (wanted) chunks.push(chunk as Buffer);
      if (wanted) files.push({ path: header.name, data: Buffer.concat(chunks) });
    }
  } catch (e) {
    gunzip.destroy();
    if (e instanceof TarError) throw e;
    throw new TarError('tar', (e as Error).message);
  }
  return files;
}

const EPOCH = new Date(0);

/**
 * A tar archive whose bytes depend on the entries alone: fixed mtime (0), mode 0644, uid and gid 0,
 * no owner names, entries in the order given. Paths that do not fit ustar get a PAX record.
 */
export async function writeTar(entries: TarEntry[]): Promise<Buffer> {
  const { pack } = await tarStream();
  const packer = pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of packer) chunks.push(chunk as Buffer);
  })();
  for (const e of entries) {
    await new Promise<void>((resolve, reject) =>
      packer.entry(
        {
          name: e.path,
          type: 'file',
          mode: 0o644,
          uid: 0,
          gid: 0,
          uname: '',
          gname: '',
          mtime: EPOCH,
          size: e.data.length,
        },
        e.data,
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  }
  packer.finalize();
  await collected;
  return Buffer.concat(chunks);
}
