import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { AirlockError } from '../../src/core/errors.js';
import { checkImageName, readPluginManifests, toRegisterRequest } from '../../src/plugins/plugin-manifest.js';
import { loadPluginManifests } from '../../src/plugins/plugin-sources.js';

const FIXTURES = path.resolve(import.meta.dirname, '..', 'fixtures', 'cloudforet-managed-plugins');

describe('plugin manifests', () => {
  it('turns all 35 managed-plugin manifests into valid 2.x register requests', () => {
    const { manifests, problems } = readPluginManifests(FIXTURES, { imagePrefix: 'cloudforet' });
    expect(problems).toEqual([]);
    expect(manifests).toHaveLength(35);
    expect(new Set(manifests.map((m) => m.request.plugin_id)).size).toBe(35);
    for (const m of manifests) {
      expect(m.request.image).toMatch(/^cloudforet\/[a-zA-Z0-9-]{1,48}$/);
      expect(m.request.registry_type).toBe('HARBOR');
      expect(Object.keys(m.request)).not.toContain('template');
    }
    const ec2 = manifests.find((m) => m.request.plugin_id === 'plugin-aws-ec2-inven-collector');
    expect(ec2?.request).toMatchObject({
      image: 'cloudforet/plugin-aws-inven-collector',
      resource_type: 'inventory.Collector',
      provider: 'aws',
      labels: ['EC2', 'Instance'],
    });
    const opencost = manifests.find((m) => m.request.plugin_id === 'plugin-k8s-opencost-cost-datasource');
    expect(opencost?.warnings).toEqual(['template dropped: not a field of the 2.x register request']);
    expect(manifests.find((m) => m.request.plugin_id === 'plugin-prometheus-mon-webhook')?.request.docs?.en).toMatch(
      /# Prometheus Webhook/,
    );
  });

  it('maps 1.x service_type, derives plugin_id from the image, and applies the service image rules', () => {
    const legacy = toRegisterRequest(
      {
        name: 'Old',
        service_type: 'inventory.Collector',
        image: 'spaceone/plugin-old-collector',
        domain_id: 'domain-1',
        template: {},
      },
      'old.yaml',
    );
    expect(legacy.request).toMatchObject({
      plugin_id: 'plugin-old-collector',
      resource_type: 'inventory.Collector',
      image: 'spaceone/plugin-old-collector',
    });
    expect(legacy.warnings).toEqual([
      '1.x service_type mapped to resource_type',
      'domain_id dropped: not a field of the 2.x register request',
      'template dropped: not a field of the 2.x register request',
    ]);
    expect(() => checkImageName('cloudforet/plugin-x:1.0', 'x')).toThrow(/must not carry a tag/);
    expect(() => checkImageName('cloudforet/plugin_x', 'x')).toThrow(/\[a-zA-Z0-9-\]\+/);
    expect(() => checkImageName(`cloudforet/${'a'.repeat(49)}`, 'x')).toThrow(/49 characters/);
    expect(() => toRegisterRequest({ name: 'n', image: 'plugin-x' }, 'f.yaml')).toThrow(/resource_type is required/);
  });

  it('refuses an image that is not an OCI repository name below the target, naming the plugin and the field', () => {
    const doc = (image: string, extra: Record<string, unknown> = {}) => ({
      plugin_id: 'plugin-evil',
      name: 'Evil',
      resource_type: 'inventory.Collector',
      image,
      ...extra,
    });
    const problem = (image: string, options = {}) => {
      try {
        toRegisterRequest(doc(image), 'evil.yaml', options);
      } catch (e) {
        return [(e as AirlockError).code, (e as AirlockError).artifact, (e as AirlockError).message];
      }
      return undefined;
    };
    // Each would name a repository outside the prefix, or a URL path outside /v2/<name>/, at the target.
    expect(problem('../../etc/passwd')).toEqual([
      'E_USAGE',
      'evil.yaml (plugin-evil)',
      'image "../../etc/passwd" is not an OCI repository name (lowercase components joined by /)',
    ]);
    expect(problem('/plugin-x')).toEqual([
      'E_USAGE',
      'evil.yaml (plugin-evil)',
      'image "/plugin-x" is not an OCI repository name (lowercase components joined by /)',
    ]);
    expect(problem('cloudforet//plugin-x')?.[2]).toMatch(
      /^image "cloudforet\/\/plugin-x" is not an OCI repository name/,
    );
    expect(problem('cloudforet/./plugin-x')?.[2]).toMatch(
      /^image "cloudforet\/\.\/plugin-x" is not an OCI repository name/,
    );
    expect(problem('Team/Plugin-X')?.[2]).toMatch(/^image "Team\/Plugin-X" is not an OCI repository name/);
    expect(problem('cloudforet/plugin-x/')?.[2]).toBe('image "cloudforet/plugin-x/" is empty or ends in /');
    expect(problem('team\nx/plugin-x')?.[2]).toBe(
      'image "team\\x0ax/plugin-x" is not an OCI repository name (lowercase components joined by /)',
    );
    // The prefix is an operator value too; a bare image below it is checked with it.
    expect(problem('plugin-x', { imagePrefix: '../..' })).toEqual([
      'E_USAGE',
      'evil.yaml (plugin-evil)',
      'image prefix (plugins.target.path or --image-prefix) "../.." is not an OCI repository name (lowercase components joined by /)',
    ]);
    expect(problem('plugin-x', { imagePrefix: 'mirror/cloudforet' })).toBeUndefined();
    expect(toRegisterRequest(doc('plugin-x'), 'ok.yaml', { imagePrefix: '/mirror/cloudforet/' }).request.image).toBe(
      'mirror/cloudforet/plugin-x',
    );
    // Without a plugin_id the display name says which plugin it is.
    expect(() => toRegisterRequest({ name: 'Nameless', resource_type: 'r', image: '../x' }, 'n.yaml')).toThrow(
      expect.objectContaining({ artifact: 'n.yaml (Nameless)' }),
    );
  });

  it('warns about a plugin_id defined in two configured paths, and reports an unreadable manifest without dropping the rest', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'plugin-paths-'));
    try {
      const [a, b] = [path.join(root, 'a'), path.join(root, 'b')];
      fs.mkdirSync(a);
      fs.mkdirSync(b);
      const manifest = 'name: X\nresource_type: inventory.Collector\nimage: plugin-x\n';
      fs.writeFileSync(path.join(a, 'x.yaml'), manifest);
      fs.writeFileSync(path.join(b, 'x.yaml'), manifest);
      // A directory named like a manifest: listed, then unreadable as a file.
      fs.mkdirSync(path.join(b, 'broken.yaml'));
      const config = parseConfig({ plugins: { manifests: [a, b], target: { registry: 'harbor.internal' } } });
      const { manifests, problems } = loadPluginManifests({}, config.plugins);
      expect(manifests.map((m) => m.file)).toEqual([path.join(a, 'x.yaml'), path.join(b, 'x.yaml')]);
      expect(manifests[0]?.warnings).toEqual([]);
      expect(manifests[1]?.warnings).toEqual([
        `plugin_id plugin-x also defined in ${path.join(a, 'x.yaml')}; the service keeps one per domain`,
      ]);
      expect(problems.map((p) => [p.error.code, p.error.artifact, p.error.message])).toEqual([
        ['E_USAGE', path.join(b, 'broken.yaml'), 'cannot read plugin manifest: EISDIR'],
      ]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
