import { describe, expect, it } from 'vitest';
import { JOB } from '../../src/model/job-names.js';
import { emptyRetryPlan } from '../../src/model/retry-plan.js';
import { addonNeedOf, failedChildItems, jobKind } from '../../src/queue/job-kinds.js';
import { readSyncRunPayload } from '../../src/queue/step-payloads.js';

describe('failed flow children as report items', () => {
  it('a failed addon chart is a chart item named by its first source; an unknown job is a job item', () => {
    const alternatives = [
      { repo: 'https://charts.example', chart: 'app', version: '1.0.0', repoType: 'helm' },
      { repo: 'oci://mirror/charts', chart: 'app', version: '1.0.0', repoType: 'oci' },
    ];
    const [chart] = failedChildItems(
      { name: JOB.mirrorAddonChart, data: { key: 'k', alternatives }, reason: '[E_NOT_FOUND] no such chart' },
      emptyRetryPlan(),
    );
    expect(chart).toMatchObject({
      kind: 'chart',
      source: 'https://charts.example app@1.0.0',
      status: 'failed',
      error: { code: 'E_NOT_FOUND', message: 'no such chart' },
    });
    const [other] = failedChildItems({ name: 'from-a-newer-producer', data: {}, reason: 'boom' }, emptyRetryPlan());
    expect(other).toMatchObject({ kind: 'job', source: 'from-a-newer-producer', status: 'failed' });
  });
});

describe('what a failed child holds back of the addons', () => {
  it('names the image as addon plans do, the chart group by key and the file by URL; other kinds hold nothing', () => {
    expect(addonNeedOf(JOB.mirrorImage, { source: 'docker://ghcr.io/a/b:1', target: 'docker://m/a/b:1' })).toEqual({
      kind: 'image',
      name: 'ghcr.io/a/b:1',
    });
    expect(addonNeedOf(JOB.mirrorAddonChart, { key: 'app@1 https://c', alternatives: [] })).toEqual({
      kind: 'chart',
      name: 'app@1 https://c',
    });
    expect(addonNeedOf(JOB.mirrorFile, { url: 'https://x/f.tgz' })).toEqual({ kind: 'url', name: 'https://x/f.tgz' });
    expect(addonNeedOf(JOB.mirrorChart, { source: 'https://c', chart: 'app', version: '1' })).toBeUndefined();
    expect(addonNeedOf(JOB.mirrorImage, { target: 'docker://m/a' })).toBeUndefined();
    expect(addonNeedOf('from-a-newer-producer', { url: 'https://x' })).toBeUndefined();
  });
});

describe('mirror-addon-chart payloads', () => {
  const parse = (data: unknown) => jobKind(JOB.mirrorAddonChart)!.parse(data);

  it('keeps what the processor reads and refuses a group it could not mirror, naming the field', () => {
    const alt = { repo: 'https://charts.example', chart: 'app', version: '1.0.0', repoType: 'helm' };
    expect(parse({ key: 'k', alternatives: [alt] })).toEqual({ key: 'k', alternatives: [alt] });
    expect(() => parse({ key: 'k', alternatives: [] })).toThrow(/mirror-addon-chart payload invalid/);
    expect(() => parse({ key: '', alternatives: [alt] })).toThrow(/payload invalid: key: /);
    expect(() => parse({ key: 'k', alternatives: [{ ...alt, version: 1 }] })).toThrow(
      /payload invalid: alternatives\[0\]\.version: /,
    );
    expect(() => parse([])).toThrow(/payload invalid/);
    let error: unknown;
    try {
      parse({ key: 'k' });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(/alternatives/) });
  });
});

describe('a run as its readers see it', () => {
  it('reads what a worker wrote and reads data no version wrote as empty instead of failing the listing', () => {
    expect(readSyncRunPayload({ scope: 'images', total: 3, startedAt: 5 })).toEqual({
      scope: 'images',
      total: 3,
      startedAt: 5,
    });
    expect(readSyncRunPayload({ scope: 'images', total: 'three' })).toEqual({});
    expect(readSyncRunPayload(null)).toEqual({});
  });
});
