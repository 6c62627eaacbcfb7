import { UnrecoverableError, type Job } from 'bullmq';
import { encodeChildFailure } from '../failure-text.js';
import type { RegisterPluginPayload } from '../step-payloads.js';
import { JOB } from '../../model/job-names.js';
import {
  addChildren,
  keyOf,
  planStep,
  waitForChildren,
  type ChildResult,
  type FlowContext,
  type StepResult,
} from '../sync-flow.js';
import { pluginItems } from '../../report/run-report.js';
import type { RepositoryClient } from '../../spaceone/repository-client.js';
import { planPluginImages, pluginError } from '../../jobs/register-plugins.js';

/**
 * One SpaceONE plugin in a run: its image copies are children that fail this job if they fail
 * (`failParentOnFailure`), so the registration runs only once every copy succeeded.
 */
export async function registerPluginStep(
  job: Job<RegisterPluginPayload>,
  ctx: FlowContext & { repositoryClient: () => Promise<RepositoryClient> },
): Promise<StepResult> {
  const data = job.data;
  const section = ctx.config.plugins;
  if (!section) throw new UnrecoverableError('register-plugin needs a plugins: section in the worker config');
  const pluginId = data.manifest.request.plugin_id;
  await planStep(job, async (recovering) => {
    let plan;
    try {
      plan = await planPluginImages(data.manifest, section, ctx.engine);
    } catch (e) {
      throw pluginError(e, pluginId);
    }
    const copies = plan.copies.map((c) => ({
      name: JOB.mirrorImage,
      data: c,
      key: keyOf('image', c.source, c.target),
    }));
    await addChildren(ctx.flow, job, copies, {
      failParentOnFailure: true,
      ...(recovering ? { skipExistingIn: ctx.queue } : {}),
    });
    return { tags: plan.tags, warnings: plan.warnings };
  });
  try {
    await waitForChildren(job, ctx.token);
  } catch (e) {
    // A copy failed before this job parked: BullMQ refuses to go on. Say which copy and why.
    if (!(e instanceof UnrecoverableError) || !/failed child/.test(e.message)) throw e;
    const failed = (await job.getDependencies({ failed: {} })).failed ?? [];
    const child = failed[0] ? await ctx.queue.getJob(failed[0].slice(ctx.queue.qualifiedName.length + 1)) : undefined;
    throw new UnrecoverableError(encodeChildFailure(failed[0] ?? '?', child?.failedReason ?? e.message));
  }
  const d = job.data;
  const copied = Object.values((await job.getChildrenValues()) as Record<string, ChildResult | null>).filter(
    (v) => (v?.value as { status?: string } | undefined)?.status === 'copied',
  ).length;
  const { syncRegistration } = await import('../../spaceone/registrar.js');
  let registration;
  try {
    registration = await syncRegistration(await ctx.repositoryClient(), data.manifest.request, {
      allowRecreate: section.allowRecreate,
      expectedTags: d.tags ?? [],
      nothingNew: copied === 0,
    });
  } catch (e) {
    throw pluginError(e, pluginId);
  }
  const items = pluginItems([
    {
      plugin_id: pluginId,
      image: data.manifest.request.image,
      mirrored: d.tags ?? [],
      registration,
      warnings: [...data.manifest.warnings, ...(d.warnings ?? [])],
    },
  ]);
  const value: ChildResult = { items, value: registration };
  return { value, items };
}
