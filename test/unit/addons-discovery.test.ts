import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Addon } from '../../src/addons/addon.js';
import { readCatalogDir, type CatalogContents } from '../../src/addons/catalog-dir.js';
import { discoverAddon, normaliseImage, type AddonPlan } from '../../src/addons/discover.js';
import { formatRef, parseRegistryRef } from '../../src/oci/reference.js';
import { planCatalog, selectWithDependencies } from '../../src/addons/plan-catalog.js';
import { rewriteAddon, type RewriteTargets } from '../../src/addons/rewrite.js';

const CATALOG = path.resolve(import.meta.dirname, '..', 'fixtures', 'kubevela-catalog');
let catalog: CatalogContents;
const plans = new Map<string, AddonPlan>();

beforeAll(async () => {
  catalog = await readCatalogDir(CATALOG);
  for (const p of planCatalog(catalog).plans) plans.set(p.addon, p);
});

const plan = (name: string) => {
  const p = plans.get(name);
  if (!p) throw new Error(`no plan for ${name}`);
  return p;
};
const addon = (name: string): Addon => catalog.addons.find((a) => a.metadata.name === name)!;

// Expected values were read by hand from the addon files in test/fixtures/kubevela-catalog.
describe('addon discovery on the real catalog folders', () => {
  it('registry prefix parameter: fluxcd _base + literal, CRD schemas that mention image: are not images', () => {
    expect(plan('fluxcd').images).toEqual([
      'docker.io/fluxcd/helm-controller:v0.36.0',
      'docker.io/fluxcd/image-automation-controller:v0.36.0',
      'docker.io/fluxcd/image-reflector-controller:v0.30.0',
      'docker.io/fluxcd/kustomize-controller:v1.1.0',
      'docker.io/fluxcd/source-controller:v1.1.0',
    ]);
    expect(plan('fluxcd').system).toEqual({ vela: '>=1.9.0-alpha.2' });
  });

  it('image tag from context.metadata.version, optional repo prefix in a conditional block: velaux', () => {
    expect(plan('velaux').images).toEqual(['docker.io/oamdev/velaux:v1.9.5']);
  });

  it('interpolation "\\(parameter.image):\\(parameter.version)" and the added v of vela-workflow', () => {
    expect(plan('kube-trigger').images).toEqual(['docker.io/oamdev/kube-trigger-manager:v0.1.0']);
    expect(plan('vela-workflow').images).toEqual(['docker.io/oamdev/vela-workflow:v0.7.2']);
    expect(plan('vela-workflow').definitionImages).toEqual(['docker.io/oamdev/vela-cli:v1.7.2']);
  });

  it('registry + "/" + repository + ":" + tag from parameters: cronhpa', () => {
    expect(plan('cronhpa').images).toEqual([
      'registry.aliyuncs.com/acs/kubernetes-cronhpa-controller:v1.4.1-b8cd52c-aliyun',
    ]);
  });

  it('split repository/tag values, chart version from a parameter inside the repo URL: flink', () => {
    const p = plan('flink-kubernetes-operator');
    expect(p.images).toEqual(['docker.io/apache/flink-kubernetes-operator:latest']);
    expect(p.charts).toEqual([
      {
        repo: 'https://downloads.apache.org/flink/flink-kubernetes-operator-1.9.0/',
        chart: 'flink-kubernetes-operator',
        version: '1.9.0',
        repoType: 'helm',
      },
    ]);
  });

  it('quoted dotted parameter names: pyroscope parameter["image.repository"]', () => {
    expect(plan('pyroscope').images).toEqual(['docker.io/pyroscope/pyroscope:0.17.1']);
    expect(plan('pyroscope').charts).toEqual([
      { repo: 'https://pyroscope-io.github.io/helm-chart', chart: 'pyroscope', version: '0.2.79', repoType: 'helm' },
    ]);
  });

  it('Helm registry/repository/tag triples in template.yaml: cloudshell', () => {
    expect(plan('cloudshell').images).toEqual([
      'docker.io/oamdev/cloudshell-operator:v0.3.0',
      'docker.io/oamdev/cloudshell:v1.7.2',
    ]);
    expect(plan('cloudshell').charts).toEqual([
      { repo: 'https://cloudtty.github.io/cloudtty', chart: 'cloudtty', version: '0.3.0', repoType: 'helm' },
    ]);
  });

  it('conditional chart URLs are alternatives: crane lists both sources of each chart', () => {
    const crane = plan('crane').charts.filter((c) => c.chart === 'crane');
    expect(crane.map((c) => c.repo).sort()).toEqual([
      'https://finops-helm.pkg.coding.net/gocrane/gocrane',
      'https://gocrane.github.io/helm-charts',
    ]);
    expect(plan('crane').images).toEqual(['ccr.ccs.tencentyun.com/tkeimages/kube-state-metrics:2.2.4']);
  });

  it('an image inside an if block and a chart URL from a parameter default: velero', () => {
    expect(plan('velero').images).toEqual(['docker.io/velero/velero-plugin-for-aws:v1.6.1']);
    expect(plan('velero').charts).toEqual([
      { repo: 'https://vmware-tanzu.github.io/helm-charts', chart: 'velero', version: '3.1.2', repoType: 'helm' },
    ]);
  });

  it('a repoType git chart is reported with a warning: nacos-operator', () => {
    expect(plan('nacos-operator').charts).toEqual([
      {
        repo: 'https://github.com/nacos-group/nacos-k8s.git',
        chart: './operator/chart/nacos-operator/',
        version: '1.16.0',
        repoType: 'git',
      },
    ]);
    expect(plan('nacos-operator').warnings.join('\n')).toMatch(/git repository/);
  });

  it('digest-pinned images stay pinned: backstage', () => {
    expect(plan('backstage').images).toEqual([
      'docker.io/oamdev/backstage-plugin-kubevela@sha256:a97cfd2d94968e32962f5c1a6d7cee3c4e4b874654d577675c14706d7e821d71',
      'docker.io/oamdev/backstage@sha256:e42e7de7c1007f456751a17fb3eb11794e6d80fb99eda0c03f7a4e34e91e6bec',
    ]);
  });

  it('Crossplane packages are images: crossplane-azure', () => {
    expect(plan('crossplane-azure').images).toEqual(['xpkg.upbound.io/crossplane-contrib/provider-azure:v0.20.1']);
  });

  it('raw YAML resources, legacy k8s.gcr.io, implicit latest: envoy-gateway and loki', () => {
    expect(plan('envoy-gateway').images).toEqual([
      'docker.io/envoyproxy/gateway-dev:latest',
      'gcr.io/k8s-staging-gateway-api/admission-server:v0.6.0-rc2',
      'gcr.io/kubebuilder/kube-rbac-proxy:v0.11.0',
      'k8s.gcr.io/ingress-nginx/kube-webhook-certgen:v1.1.1',
    ]);
    expect(plan('loki').images).toContain('docker.io/curlimages/curl:latest');
    expect(plan('loki').images).toContain('docker.io/grafana/promtail:latest');
    expect(plan('loki').definitionImages).toEqual(['docker.io/timberio/vector:0.23.3-alpine']);
  });

  it('a non-semver addon version is discovered with a warning naming metadata.yaml: spark', () => {
    const p = plan('spark-kubernetes-operator');
    expect(p.images).toEqual(['ghcr.io/googlecloudplatform/spark-operator:v1beta2-1.3.8-3.1.1']);
    expect(p.warnings[0]).toMatch(
      /spark-kubernetes-operator\/metadata\.yaml: version "v1beta2-1\.3\.8-3\.1\.1" is not semver/,
    );
  });

  it('dependencies: a selection pulls in its closure, across registries', () => {
    const { selected } = selectWithDependencies(catalog, ['cert-manager']);
    expect(selected.map((a) => a.metadata.name).sort()).toEqual(['cert-manager', 'fluxcd']);
    const missing = selectWithDependencies(
      {
        addons: [{ ...addon('velaux'), metadata: { ...addon('velaux').metadata, dependencies: [{ name: 'nope' }] } }],
        warnings: [],
      },
      undefined,
    );
    expect(missing.warnings[0]?.message).toMatch(/dependency "nope" is in no registry/);
  });

  it('normalises references as Docker does', () => {
    expect(normaliseImage('nginx')).toBe('docker.io/library/nginx:latest');
    expect(normaliseImage('quay.io/a/b')).toBe('quay.io/a/b:latest');
  });

  it('keeps only the digest of a tag@digest reference, as chart image lists do, so both name one copy', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(normaliseImage(`nginx:1.25@${digest}`)).toBe(`docker.io/library/nginx@${digest}`);
    expect(normaliseImage(`nginx:1.25@${digest}`)).toBe(
      formatRef(parseRegistryRef(`docker.io/library/nginx:1.25@${digest}`)).replace(/^docker:\/\//, ''),
    );
  });
});

describe('bad input in addon folders', () => {
  const files = (entries: Record<string, string>) =>
    new Map(Object.entries(entries).map(([k, v]) => [k, Buffer.from(v)]));
  const meta = 'name: broken\nversion: 1.0.0\n';

  it('an unparseable CUE file is a warning with the file name; the other files are still scanned', () => {
    const scan = discoverAddon({
      registry: 'official',
      dir: 'broken',
      metadata: { name: 'broken', version: '1.0.0' },
      files: files({
        'metadata.yaml': meta,
        'resources/bad.cue': 'x: {\n image: "a/b:1"\n',
        'resources/good.cue': 'y: image: "nginx:1.25"\n',
      }),
    });
    expect(scan.plan.images).toEqual(['docker.io/library/nginx:1.25']);
    expect(scan.plan.warnings.join('\n')).toMatch(/broken\/resources\/bad\.cue:\d+: cannot read CUE/);
  });

  it('YAML numbers keep their written form: tag 1.10 is not 1.1', () => {
    const scan = discoverAddon({
      registry: 'official',
      dir: 'num',
      metadata: { name: 'num', version: '1.0.0' },
      files: files({
        'metadata.yaml': meta,
        'template.yaml':
          'spec:\n  components:\n    - type: helm\n      properties:\n        url: https://charts.example.com\n        chart: c\n        version: 1.10\n        values:\n          image:\n            repository: acme/app\n            tag: 1.10\n',
      }),
    });
    expect(scan.plan.images).toEqual(['docker.io/acme/app:1.10']);
    expect(scan.plan.charts[0]?.version).toBe('1.10');
  });

  it('remote URLs: ref-objects urls and uxPlugins, both rewritten to their mirrored copies', () => {
    const metadata = 'name: example\nversion: 1.0.0\nuxPlugins:\n  node: https://example.com/node.tgz\n';
    const scan = discoverAddon({
      registry: 'experimental',
      dir: 'example',
      metadata: { name: 'example', version: '1.0.0', uxPlugins: { node: 'https://example.com/node.tgz' } },
      files: files({
        'metadata.yaml': metadata,
        'resources/objects.cue':
          'o: {\n\ttype: "ref-objects"\n\tproperties: urls: ["https://example.com/manifest.yaml"]\n}\n',
      }),
    });
    expect(scan.plan.urls).toEqual(['https://example.com/manifest.yaml', 'https://example.com/node.tgz']);
    const rw = rewriteAddon(scan, {
      image: () => undefined,
      chart: () => undefined,
      url: (u) => u.replace('https://example.com/', 'https://files.airgap/example.com/'),
    });
    expect(rw.files.get('metadata.yaml')!.toString()).toBe(
      'name: example\nversion: 1.0.0\nuxPlugins:\n  node: https://files.airgap/example.com/node.tgz\n',
    );
    expect(rw.files.get('resources/objects.cue')!.toString()).toContain(
      'urls: ["https://files.airgap/example.com/manifest.yaml"]',
    );
  });
});

describe('addon rewrite', () => {
  const REG = 'registry.airgap:5000';
  const targets: RewriteTargets = {
    image: (n) => `${REG}/${n.replace(/[@].*$/, '').replace(/:[^/]*$/, '')}`,
    chart: () => ({ url: 'oci://registry.airgap:5000/charts', repoType: 'oci' }),
    url: (u) => `https://files.airgap/${u.replace(/^https?:\/\//, '')}`,
  };
  const mirrored = (ref: string) => {
    const at = ref.indexOf('@');
    const name = at >= 0 ? ref.slice(0, at) : ref.slice(0, ref.lastIndexOf(':'));
    return `${REG}/${name}${ref.slice(name.length)}`;
  };

  it('every addon, rediscovered after the rewrite, deploys exactly the mirrored images and charts', () => {
    for (const a of catalog.addons) {
      const scan = discoverAddon(a);
      const rw = rewriteAddon(scan, targets);
      expect(rw.warnings, a.dir).toEqual([]);
      expect(rw.errors, a.dir).toEqual([]);
      const again = discoverAddon({ ...a, files: rw.files }).plan;
      expect(again.images, a.dir).toEqual(scan.plan.images.map(mirrored).sort());
      for (const c of again.charts) {
        if (c.repoType === 'git') expect(c.repo).toBe('https://github.com/nacos-group/nacos-k8s.git');
        else
          expect({ repo: c.repo, repoType: c.repoType }, a.dir).toEqual({
            repo: 'oci://registry.airgap:5000/charts',
            repoType: 'oci',
          });
      }
      for (const [file, data] of a.files) {
        if (!rw.changedFiles.includes(file)) expect(rw.files.get(file), `${a.dir}/${file}`).toBe(data);
      }
    }
  });

  it('rewrites the literal where the registry prefix is optional, and only that', () => {
    const a = addon('fluxcd');
    const rw = rewriteAddon(discoverAddon(a), targets);
    const file = 'resources/components/helm-controller.cue';
    const before = a.files.get(file)!.toString();
    const after = rw.files.get(file)!.toString();
    expect(after).toBe(
      before.replace(
        '_base + "fluxcd/helm-controller:v0.36.0"',
        `_base + "${REG}/docker.io/fluxcd/helm-controller:v0.36.0"`,
      ),
    );
    expect(rw.changes).toContainEqual({
      kind: 'image',
      file,
      from: 'fluxcd/helm-controller:v0.36.0',
      to: `${REG}/docker.io/fluxcd/helm-controller:v0.36.0`,
    });
  });

  it('a chart URL from a parameter default is rewritten at the default, repoType becomes oci', () => {
    const a = addon('velero');
    const rw = rewriteAddon(discoverAddon(a), targets);
    expect(rw.files.get('parameter.cue')!.toString()).toContain(
      'chartUrl: *"oci://registry.airgap:5000/charts" | string',
    );
    expect(rw.files.get('resources/helm.cue')!.toString()).toContain('url:             parameter.chartUrl');
    expect(rw.files.get('resources/helm.cue')!.toString()).toMatch(/repoType:\s+"oci"/);
  });

  it('YAML keeps its style: cloudshell registry values get the mirror prefix', () => {
    const a = addon('cloudshell');
    const rw = rewriteAddon(discoverAddon(a), targets);
    const y = rw.files.get('template.yaml')!.toString();
    expect(y).toContain(`registry: ${REG}/docker.io\n`);
    expect(y).toContain('url: oci://registry.airgap:5000/charts\n');
    expect(y).toContain('repoType: oci\n');
    expect(y).toContain('tag: "v0.3.0"');
  });

  it('leaves everything byte-identical when nothing maps to a mirror', () => {
    const a = addon('loki');
    const rw = rewriteAddon(discoverAddon(a), { image: () => undefined, chart: () => undefined });
    expect(rw.changedFiles).toEqual([]);
    for (const [f, d] of a.files) expect(rw.files.get(f)).toBe(d);
  });
});
