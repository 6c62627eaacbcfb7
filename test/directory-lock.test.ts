import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { airlock } from './support/cli.js';
import { buildChart, startChartRepo, type ChartRepoServer } from './support/charts.js';

const CHARTS = 6;
let repo: ChartRepoServer;
let work: string;

beforeAll(async () => {
  repo = await startChartRepo(
    Array.from({ length: CHARTS }, (_, i) => ({
      name: `c${i}`,
      version: '1.0.0',
      tgz: buildChart({ name: `c${i}`, version: '1.0.0' }),
    })),
  );
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'dir-lock-'));
});

afterAll(async () => {
  await repo?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('a directory target written by several processes at once', () => {
  it('keeps every index entry (the index update is locked across processes)', async () => {
    const dir = path.join(work, 'charts');
    const runs = await Promise.all(
      Array.from({ length: CHARTS }, (_, i) => airlock(['chart', 'copy', repo.url, `c${i}@1.0.0`, dir])),
    );
    expect(runs.map((r) => r.code)).toEqual(Array(CHARTS).fill(0));
    const index = parse(fs.readFileSync(path.join(dir, 'index.yaml'), 'utf8')) as {
      entries: Record<string, unknown[]>;
    };
    expect(Object.keys(index.entries).sort()).toEqual(Array.from({ length: CHARTS }, (_, i) => `c${i}`).sort());
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.lock'))).toEqual([]);
  });
});
