import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

describe('npm run demo', () => {
  it('runs the bundled sample offline: image copy and re-sync, chart mirror, addon plan', async () => {
    const child = spawn(process.execPath, [path.resolve(import.meta.dirname, '..', 'scripts', 'demo.mjs')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code, out).toBe(0);
    expect(out).toMatch(/^copied {4}oci:.*sample:1\.0 -> oci:.*store:1\.0/m);
    expect(out).toMatch(/^unchanged oci:.*sample:1\.0 -> oci:.*store:1\.0/m);
    expect(out).toMatch(/^copied {4}http:\/\/127\.0\.0\.1:\d+ demo@0\.1\.0 -> .*demo-0\.1\.0\.tgz/m);
    expect(out).toContain('docker.io/library/nginx:1.27');
    expect(out).toMatch(/official\/cert-manager 2\.2\.0 .*depends on fluxcd/);
    expect(out).toContain('docker.io/oamdev/velaux:v1.9.5');
  }, 60_000);
});
