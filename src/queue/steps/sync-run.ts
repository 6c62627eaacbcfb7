import { UnrecoverableError, type Job } from 'bullmq';
import { AirlockError } from '../../core/errors.js';
import { resolveScope } from '../../config/scope.js';
import { encodeJobFailure } from '../failure-text.js';
import type { SyncRunPayload } from '../step-payloads.js';
import {
  addChildren,
  flowReport,
  planRunChildren,
  planStep,
  settledChildren,
  waitForChildren,
  type FlowContext,
  type StepResult,
} from '../sync-flow.js';

/**
 * A scheduled or triggered run as a flow parent: plan, one child job per artifact, then — when
 * the worker picks it up again after the children settled — the run report from their results.
 */
export async function syncRunStep(job: Job<SyncRunPayload>, ctx: FlowContext): Promise<StepResult> {
  const data = job.data;
  const scope = String(data.scope ?? 'all');
  const resolved = resolveScope(ctx.config, scope);
  if (!resolved) throw new UnrecoverableError(`unknown sync scope "${scope}" for this worker's config`);
  if (data.step !== 'wait' && data.configDigest && ctx.configDigest && data.configDigest !== ctx.configDigest) {
    // The run was queued for a config this worker does not run: planning it from this one would
    // silently mirror something else than the operator asked for.
    const file = data.configFile ? ` (${data.configFile})` : '';
    throw new UnrecoverableError(
      encodeJobFailure(
        new AirlockError(
          'E_CONFIG',
          `run ${job.id ?? ''} was queued for config ${data.configDigest.slice(0, 12)}${file}, but this worker runs config ${ctx.configDigest.slice(0, 12)}: deploy that config to the workers, or run it in-process with airlock sync --config`,
        ),
      ),
    );
  }
  await planStep(
    job,
    async (recovering) => {
      const plan = await planRunChildren({
        config: resolved.config,
        kinds: resolved.kinds,
        engine: ctx.engine,
        cacheDirs: ctx.cacheDirs,
        ...(data.retry ? { retry: data.retry } : {}),
      });
      await addChildren(ctx.flow, job, plan.children, recovering ? { skipExistingIn: ctx.queue } : {});
      ctx.logger.info({ children: plan.children.length }, 'sync run planned');
      return { planned: plan.planned, retryEntries: plan.retryEntries, total: plan.children.length };
    },
    { startedAt: data.startedAt ?? Date.now() },
  );
  await waitForChildren(job, ctx.token);
  const d = job.data;
  const { report, retry } = flowReport(
    d.planned ?? [],
    await settledChildren(ctx.queue, job),
    new Date(d.startedAt ?? job.timestamp),
    d.retryEntries ?? { imageEntries: [], chartEntries: [] },
  );
  // The result is the summary, the failures and what to run again for them; the full report would bloat Redis.
  const failures = report.items.filter((i) => i.status === 'failed');
  // Children counted themselves in the metrics; the run adds only what failed while planning.
  return {
    value: { summary: report.summary, ok: report.ok, failures, ...(failures.length ? { retry } : {}) },
    items: d.planned ?? [],
  };
}
