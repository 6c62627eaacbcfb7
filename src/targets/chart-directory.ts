import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { parseIndex, stringifyIndex, type ChartVersionEntry, type IndexFile } from '../charts/index-file.js';
import { AirlockError } from '../core/errors.js';
import { serializedAcrossProcesses, writeFileAtomic } from '../core/fs-atomic.js';
import { checkChartNames, type ChartPackage, type ChartTarget } from './chart-target.js';

/**
 * A static chart repository in a directory: `<name>-<version>.tgz` (+ `.prov`) and an index.yaml
 * merged with what is already there. URLs point at `baseUrl` when given, else they are relative
 * (Helm resolves them against the repository URL). Every file is written by temp file + rename.
 */
export function directoryChartTarget(dir: string, baseUrl?: string): ChartTarget {
  const indexFile = path.join(dir, 'index.yaml');
  const urlFor = (file: string) => (baseUrl ? `${baseUrl.replace(/\/+$/, '')}/${file}` : file);

  // Parsed once and reused while the file is unchanged: a re-sync of many versions reads it once.
  let cached: { mtimeMs: number; index: IndexFile } | undefined;

  /** The index as stored; callers that change it get their own copy (readForUpdate). */
  async function readExisting(copy = false): Promise<IndexFile> {
    let text: string;
    let mtimeMs: number;
    try {
      mtimeMs = (await fsp.stat(indexFile)).mtimeMs;
      if (cached?.mtimeMs === mtimeMs) return copy ? structuredClone(cached.index) : cached.index;
      text = await fsp.readFile(indexFile, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { apiVersion: 'v1', entries: {} };
      throw e;
    }
    // A broken index here is not overwritten: the charts it lists would vanish from the repository.
    const index = parseIndex(text, indexFile, { own: true });
    cached = { mtimeMs, index };
    return copy ? structuredClone(index) : index;
  }

  return {
    label: dir,
    async has(name, version, digest) {
      checkChartNames(name, version, dir);
      const location = path.join(dir, `${name}-${version}.tgz`);
      const index = await readExisting();
      const entry = index.entries[name]?.find((v) => v.version === version);
      return { present: entry?.digest === digest && (await exists(location)), location };
    },
    async push(chart: ChartPackage) {
      checkChartNames(chart.name, chart.version, dir);
      const file = `${chart.name}-${chart.version}.tgz`;
      const digest = createHash('sha256').update(chart.tgz).digest('hex');
      const location = path.join(dir, file);
      await fsp.mkdir(dir, { recursive: true });
      return serializedAcrossProcesses(indexFile, async () => {
        const index = await readExisting(true);
        const versions = index.entries[chart.name] ?? [];
        const present = versions.find((v) => v.version === chart.version);
        if (present?.digest && present.digest !== digest) {
          throw new AirlockError(
            'E_CONFLICT',
            `${file} in ${dir} has digest ${present.digest}, the source chart ${digest}; not overwriting`,
            { artifact: location },
          );
        }
        let onDisk: Buffer | undefined;
        try {
          onDisk = await fsp.readFile(location);
        } catch {
          onDisk = undefined;
        }
        const diskOk = onDisk !== undefined && createHash('sha256').update(onDisk).digest('hex') === digest;
        if (present && diskOk && (!chart.prov || (await exists(`${location}.prov`))))
          return { status: 'unchanged' as const, location, digest };
        if (!diskOk) await writeFileAtomic(location, chart.tgz);
        if (chart.prov) await writeFileAtomic(`${location}.prov`, chart.prov);
        // stringifyIndex keeps only Helm's fields, so whatever else the upstream entry or Chart.yaml has is dropped there.
        const entry: ChartVersionEntry = {
          ...(chart.entry ?? chart.metadata),
          name: chart.name,
          version: chart.version,
          urls: [urlFor(file)],
          digest,
          created: chart.entry?.created ?? new Date().toISOString(),
        };
        index.entries[chart.name] = [...versions.filter((v) => v.version !== chart.version), entry];
        index.apiVersion ??= 'v1';
        index.generated = new Date().toISOString();
        await writeFileAtomic(indexFile, stringifyIndex(index));
        cached = { mtimeMs: (await fsp.stat(indexFile)).mtimeMs, index: structuredClone(index) };
        return { status: 'copied' as const, location, digest };
      });
    },
  };
}

async function exists(file: string): Promise<boolean> {
  return fsp.stat(file).then(
    () => true,
    () => false,
  );
}
