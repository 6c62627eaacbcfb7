import type { Job } from 'bullmq';
import {
  addChildren,
  finishAddons,
  planAddonChildren,
  planStep,
  settledChildren,
  waitForChildren,
  withCatalogs,
  type FlowContext,
  type StepResult,
} from '../sync-flow.js';
import type { PublishAddonsPayload } from '../step-payloads.js';

/**
 * The addon registries of a run, as a flow parent of the charts, images and files its addons
 * need: they are mirrored first, then what arrived decides which addons are rewritten and published.
 */
export async function publishAddonsStep(job: Job<PublishAddonsPayload>, ctx: FlowContext): Promise<StepResult> {
  const data = job.data;
  // The run's scope: the catalogs the sync job named (all of them for an older job without the list).
  const config = data.catalogs
    ? withCatalogs(
        ctx.config,
        data.catalogs.map((name) => ({ name })),
      )
    : ctx.config;
  await planStep(job, async (recovering) => {
    const planned = await planAddonChildren(config, ctx.engine, ctx.cacheDirs);
    await addChildren(ctx.flow, job, planned.children, recovering ? { skipExistingIn: ctx.queue } : {});
    return { plan: planned.plan };
  });
  await waitForChildren(job, ctx.token);
  const plan = job.data.plan ?? { catalogs: [], failures: [], images: [], charts: [], urls: [] };
  const { result, own } = await finishAddons(
    config,
    { engine: ctx.engine, logger: ctx.logger, cacheDirs: ctx.cacheDirs },
    plan,
    await settledChildren(ctx.queue, job),
  );
  return { value: result, items: own };
}
