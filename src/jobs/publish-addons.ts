import type { Job } from 'bullmq';
import { addChildren, finishAddons, planAddonChildren, settledChildren, waitForChildren, type FlowContext, type StepResult } from '../queue/sync-flow.js';

/**
 * The addon registries of a run, as a flow parent of the charts, images and files its addons
 * need: they are mirrored first, then what arrived decides which addons are rewritten and published.
 */
export async function publishAddonsStep(job: Job, ctx: FlowContext): Promise<StepResult> {
  const data = job.data as { step?: string; pinned?: Record<string, string> };
  if (data.step !== 'wait') {
    const plan = await planAddonChildren(ctx.config, ctx.engine, ctx.cacheDir);
    await addChildren(ctx.flow, job, plan.children);
    await job.updateData({ step: 'wait', pinned: plan.pinned });
  }
  await waitForChildren(job, ctx.token);
  const pinned = (job.data as typeof data).pinned ?? {};
  const { result, own } = await finishAddons(ctx.config, { engine: ctx.engine, logger: ctx.logger, cacheDir: ctx.cacheDir }, pinned, await settledChildren(ctx.queue, job));
  return { value: result, items: own };
}
