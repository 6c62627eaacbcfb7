import { Readable } from 'node:stream';
import { buildChartArtifact, chartTag, HELM } from '../charts/helm-oci.js';
import type { RegistryAccess } from '../oci/registry/types.js';
import { AirlockError } from '../core/errors.js';
import { parseManifest } from '../oci/manifest.js';
import { checkName } from '../core/names.js';
import { checkChartNames, type ChartPackage, type ChartTarget } from './chart-target.js';

/**
 * Pushes charts as Helm OCI artifacts to `oci://HOST/PATH`: the chart lands at `PATH/NAME:TAG`
 * (tag = version with `+` → `_`), blobs first, the tag last.
 */
export function ociChartTarget(engine: RegistryAccess, registry: string, basePath: string): ChartTarget {
  const label = `oci://${registry}${basePath ? `/${basePath}` : ''}`;
  /** The chart's repository and tag, checked as OCI names: a request never leaves /v2/<repository>. */
  const place = (name: string, version: string) => {
    checkChartNames(name, version, label);
    const repo = {
      registry,
      repository: checkName('repository', basePath ? `${basePath}/${name}` : name, {
        field: 'OCI repository',
        artifact: label,
      }),
    };
    const tag = checkName('tag', chartTag(version), { field: 'OCI tag', artifact: label });
    return { repo, tag, location: `oci://${registry}/${repo.repository}:${tag}` };
  };
  return {
    label,
    async has(name, version, digest) {
      const { repo, tag, location } = place(name, version);
      const head = await engine.client.headManifest(repo, tag);
      if (!head) return { present: false, location };
      const parsed = parseManifest(await engine.client.getManifest(repo, head.digest), location);
      return {
        present: parsed.kind === 'manifest' && parsed.layers.some((l) => l.digest === `sha256:${digest}`),
        location,
      };
    },
    async push(chart: ChartPackage) {
      const { repo, tag, location } = place(chart.name, chart.version);
      const built = buildChartArtifact(chart.metadata, chart.tgz, chart.prov);
      const chartLayer = built.layers.find((l) => l.mediaType === HELM.chart);
      const digest = chartLayer?.digest.replace(/^sha256:/, '') ?? '';
      const existing = await engine.client.headManifest(repo, tag);
      if (existing?.digest === built.manifest.digest) return { status: 'unchanged', location, digest };
      if (existing) {
        // Pushed before by another tool (helm push adds a timestamp): the same chart bytes count as present.
        const raw = await engine.client.getManifest(repo, existing.digest);
        const parsed = parseManifest(raw, location);
        const layers = parsed.kind === 'manifest' ? parsed.layers : [];
        if (layers.some((l) => l.digest === chartLayer?.digest)) return { status: 'unchanged', location, digest };
        throw new AirlockError(
          'E_CONFLICT',
          `a different chart is already tagged ${tag} at ${registry}/${repo.repository}; not overwriting`,
          { artifact: location },
        );
      }
      const blobs = [{ mediaType: HELM.config, bytes: built.config, digest: built.configDigest }, ...built.layers];
      for (const b of blobs) {
        const desc = { mediaType: b.mediaType, digest: b.digest, size: b.bytes.length };
        if (await engine.client.hasBlob(repo, b.digest)) continue;
        await engine.client.uploadBlob(repo, desc, async (offset) => Readable.from([b.bytes.subarray(offset)]));
      }
      await engine.client.putManifest(repo, tag, built.manifest);
      return { status: 'copied', location, digest };
    },
  };
}
