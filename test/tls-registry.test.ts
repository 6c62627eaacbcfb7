import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mirrorImage } from '../src/jobs/mirror-image.js';
import { silentLogger } from '../src/core/log.js';
import { memoryMirrorState } from '../src/state/mirror-state.js';
import { testEngine } from './support/engine.js';
import { buildManifest, getManifest, pushImage, randomBlob } from './support/images.js';
import { selfSignedCertificate, startRegistry, type TestRegistry } from './support/registry.js';

// HEAD probes and requests with bodies take different HTTP clients (src/http/transport.ts): both
// must honour a registry's TLS settings.

let upstream: TestRegistry;
let target: TestRegistry;
let secure: TestRegistry;
let certDir: string;

beforeAll(async () => {
  certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-tls-'));
  [upstream, target, secure] = await Promise.all([
    startRegistry(),
    startRegistry(),
    startRegistry({ tls: selfSignedCertificate(certDir) }),
  ]);
});

afterAll(async () => {
  await Promise.all([upstream?.stop(), target?.stop(), secure?.stop()]);
  fs.rmSync(certDir, { recursive: true, force: true });
});

const copy = (source: string, dest: string, engine = testEngine()) =>
  mirrorImage({ source, target: dest }, { engine, logger: silentLogger() });

describe('a registry served over TLS', () => {
  it('is reached over HTTPS when configured insecure, HEAD probes included, and its self-signed certificate is refused otherwise', async () => {
    const m = buildManifest({ layers: [randomBlob(40_000)] });
    await pushImage(upstream.url, 'app/tls', '1', m);
    expect(secure.url).toMatch(/^https:/);
    // trustTargetSeconds 0: every re-sync asks the target, so the second run's target HEAD goes over TLS too.
    const insecure = {
      registries: [{ host: secure.host, plainHttp: false, insecure: true }],
      state: { trustTargetSeconds: 0 },
    };
    const state = memoryMirrorState();

    const up = await copy(
      `docker://${upstream.host}/app/tls:1`,
      `docker://${secure.host}/app/tls`,
      testEngine({ config: insecure, state }),
    );
    expect(up).toMatchObject({ status: 'copied', targetDigest: m.digest });
    const again = await copy(
      `docker://${upstream.host}/app/tls:1`,
      `docker://${secure.host}/app/tls`,
      testEngine({ config: insecure, state }),
    );
    expect(again.status).toBe('unchanged');

    // The TLS registry as the source: its tag HEAD, manifest and blob GETs.
    const down = await copy(
      `docker://${secure.host}/app/tls:1`,
      `docker://${target.host}/app/tls`,
      testEngine({ config: insecure }),
    );
    expect(down).toMatchObject({ status: 'copied', targetDigest: m.digest });
    const got = await getManifest(target.url, 'app/tls', '1');
    expect(got.bytes.equals(m.bytes)).toBe(true);

    // Verified TLS (the default for a registry configured plainHttp: false): the first request is the
    // HEAD probe of the source tag, and it fails naming the host and the certificate problem.
    const strict = { registries: [{ host: secure.host, plainHttp: false }] };
    const err = (await copy(
      `docker://${secure.host}/app/tls:1`,
      `docker://${target.host}/app/strict`,
      testEngine({ config: strict }),
    ).catch((e: unknown) => e)) as Error & { code?: string };
    expect(err.code).toBe('E_UNREACHABLE');
    expect(err.message).toContain(secure.host);
    expect(err.message).toMatch(/certificate/i);
  });
});
