import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import semver from 'semver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startServeProcess } from './support/airlock-processes.js';
import { startRedis, type TestRedis } from './support/redis.js';

const ROOT = path.resolve(import.meta.dirname, '..');

/** The compose file's fields these tests read (Compose specification: services, depends_on, healthcheck, volumes). */
interface Service {
  image?: string;
  command?: string[];
  user?: string;
  restart?: string;
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}
const compose = parse(fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const { services } = compose;

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

describe('docker-compose.yml (no Docker engine here: read as the Compose specification defines it)', () => {
  it('only waits on conditions that can be met: healthy services have a health check, completed ones run once', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        const target = services[dep];
        expect(target, `${name} depends on ${dep}`).toBeDefined();
        expect(['service_started', 'service_healthy', 'service_completed_successfully'], `${name} → ${dep}`).toContain(
          condition,
        );
        if (condition === 'service_healthy')
          expect(target?.healthcheck?.test?.[0], `${dep} has a health check`).toBe('CMD');
        if (condition === 'service_completed_successfully')
          expect(target?.restart ?? 'no', `${dep} runs once`).toBe('no');
      }
      for (const v of s.volumes ?? []) {
        const source = v.split(':')[0]!;
        if (!source.startsWith('.') && !source.startsWith('/'))
          expect(Object.keys(compose.volumes), `${name}'s volume ${source}`).toContain(source);
      }
    }
  });

  it('starts workers, the scheduler and the server once Redis is healthy', () => {
    for (const name of ['worker', 'scheduler', 'serve', 'cli'])
      expect(services[name]?.depends_on?.redis?.condition, name).toBe('service_healthy');
    expect(services.worker?.depends_on?.registry?.condition).toBe('service_healthy');
  });

  it("checks the server's health on /healthz, with a command that passes against a real airlock serve and fails without one", async () => {
    const serve = services.serve!;
    const port = serve.command?.[serve.command.indexOf('--port') + 1];
    expect(port).toMatch(/^\d+$/);
    const [kind, program, flag, script] = serve.healthcheck?.test ?? [];
    expect([kind, program, flag]).toEqual(['CMD', 'node', '-e']);
    expect(script).toContain(`http://127.0.0.1:${port}/healthz`);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deploy-'));
    const cfg = path.join(dir, 'airlock.yaml');
    fs.writeFileSync(cfg, 'redis:\n  url: { env: TEST_REDIS_URL }\n  prefix: "{airlock-test}"\n');
    const server = await startServeProcess(cfg, `deploy-${randomUUID()}`, { TEST_REDIS_URL: redis.url });
    // The container's command, run here against this server's port: what Docker would run inside it.
    const check = () =>
      spawnSync(process.execPath, ['-e', script!.replace(`:${port}/`, `:${new URL(server.url).port}/`)], {
        timeout: 20_000,
      }).status;
    try {
      expect(check()).toBe(0);
    } finally {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(check()).toBe(1);
  });

  it("hands ChartMuseum's storage volume to uid 1000 before ChartMuseum starts (it does not create the directory itself)", () => {
    // helm/chartmuseum issues #193, #231, #305: the image runs as uid 1000; a fresh named volume is root's.
    const museum = services.chartmuseum!;
    const root = museum.environment?.STORAGE_LOCAL_ROOTDIR;
    expect(museum.environment?.STORAGE).toBe('local');
    const mount = museum.volumes?.find((v) => v.split(':')[1] === root);
    expect(mount, `a volume at ${root}`).toBeDefined();
    const volume = mount!.split(':')[0]!;
    const [initName, init] =
      Object.entries(services).find(
        ([n, s]) => n !== 'chartmuseum' && s.volumes?.some((v) => v.split(':')[0] === volume),
      ) ?? [];
    expect(initName, `a service preparing ${volume}`).toBeDefined();
    expect(museum.depends_on?.[initName!]?.condition).toBe('service_completed_successfully');
    expect(['0', '0:0', 'root']).toContain(init!.user);
    const initMount = init!.volumes!.find((v) => v.split(':')[0] === volume)!.split(':')[1]!;
    const command = init!.command ?? [];
    expect(command.slice(0, 3)).toEqual(['chown', '-R', '1000:1000']);
    expect(command[3]).toBe(initMount);
    if (process.getuid?.() === 0) {
      // Run as root on a root-owned directory standing in for the fresh volume.
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'volume-'));
      fs.mkdirSync(path.join(dir, 'org'));
      fs.writeFileSync(path.join(dir, 'org', 'index-cache.yaml'), '');
      try {
        execFileSync(command[0]!, [...command.slice(1, 3), dir]);
        for (const p of [dir, path.join(dir, 'org'), path.join(dir, 'org', 'index-cache.yaml')])
          expect(fs.statSync(p).uid, p).toBe(1000);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  });
});

describe('package-lock.json', () => {
  it('installs on the Node versions package.json supports: no package asks for a newer Node (npm ci warns EBADENGINE)', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    const oldest = semver.minVersion(pkg.engines.node)!.version;
    const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version?: string; dev?: boolean; engines?: { node?: string } | string[] }>;
    };
    const refused: string[] = [];
    for (const [where, p] of Object.entries(lock.packages)) {
      const range = !Array.isArray(p.engines) ? p.engines?.node : undefined;
      if (!where || !range) continue;
      // Runtime packages must take the oldest Node we promise; tools only the Node running the tests.
      if (!semver.satisfies(p.dev ? process.version : oldest, range))
        refused.push(`${where}@${p.version} wants node ${range}`);
    }
    expect(refused).toEqual([]);
  });
});
