import { describe, expect, it } from 'vitest';
import { JOB } from '../../src/model/job-names.js';
import { emptyRetryPlan } from '../../src/model/retry-plan.js';
import { failedChildItems } from '../../src/queue/job-kinds.js';

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
