import { AirlockError } from '../core/errors.js';
import { JOB } from '../model/job-names.js';
import type { ReportItem } from '../model/report.js';
import type { RetryPlan } from '../model/retry-plan.js';
import type { PluginManifest } from '../plugins/plugin-manifest.js';

/**
 * The data of the flow steps' jobs (sync runs, publish-addons, register-plugin), parsed where they
 * leave the queue. A step writes its own data back as it goes (`step`, what it planned); the parsers
 * accept what any step of this version wrote, and refuse what none did.
 */

/** Where a flow parent is: adding its children (seen again: a worker died while adding), or waiting for them. */
export type FlowStepMark = 'adding' | 'wait';

/** `sync`: a whole run of the worker's config, the parent of one job per artifact. */
export interface SyncRunPayload {
  scope?: string;
  reason?: string;
  /** `runs retry`: what the run it retries failed to mirror. */
  retry?: RetryPlan;
  /** The run this one retries. */
  retryOf?: string;
  step?: FlowStepMark;
  planned?: ReportItem[];
  retryEntries?: { imageEntries: string[]; chartEntries: string[] };
  /** When a worker first took the run: its duration counts from here. */
  startedAt?: number;
  /** How many artifacts (direct children) the run planned, for whoever follows it. */
  total?: number;
  /** The config the run was queued for (`sync --queue --config F`); absent: the worker's own. */
  configDigest?: string;
  configFile?: string;
}

/** What the publish-addons plan step decided, kept in the job's data for its finish step. */
export interface AddonFlowPlan {
  /** Catalogs read at plan time, git ones pinned to the commit read. */
  catalogs: Array<{ name: string; commit?: string }>;
  /** Report items for what failed while planning (a catalog not read). */
  failures: ReportItem[];
  /** What the children were to mirror: an addon needing anything else is not published. */
  images: string[];
  charts: string[];
  urls: string[];
}

/** `publish-addons`: the addon registries of a run, the parent of what its addons need. */
export interface PublishAddonsPayload {
  /** `plan` as the sync run adds it; then the step's own marks. */
  step?: 'plan' | FlowStepMark;
  /** The run's scope; absent (an older job): every catalog. */
  catalogs?: string[];
  plan?: AddonFlowPlan;
}

/** `register-plugin`: a plugin's registration, the parent of its image copies. */
export interface RegisterPluginPayload {
  manifest: PluginManifest;
  step?: FlowStepMark;
  /** Written by the plan step: the tags its image copies write, and what it warned about. */
  tags?: string[];
  warnings?: string[];
}

type Loose = Record<string, unknown>;

/** Checks fields one by one, naming the first that is wrong. */
function checker(kind: string, data: unknown): { d: Loose; need(ok: boolean, why: string): void } {
  const fail = (why: string) => new AirlockError('E_USAGE', `${kind} payload invalid: ${why}`);
  if (!data || typeof data !== 'object' || Array.isArray(data)) throw fail('not an object');
  return {
    d: data as Loose,
    need: (ok, why) => {
      if (!ok) throw fail(why);
    },
  };
}

const optional = (v: unknown, test: (v: unknown) => boolean) => v === undefined || test(v);
const isString = (v: unknown) => typeof v === 'string';
const isNumber = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
const isObject = (v: unknown) => !!v && typeof v === 'object' && !Array.isArray(v);
const isStrings = (v: unknown) => Array.isArray(v) && v.every(isString);
const isObjects = (v: unknown) => Array.isArray(v) && v.every(isObject);
const isMark = (v: unknown) => v === 'adding' || v === 'wait';

export function parseSyncRunPayload(data: unknown): SyncRunPayload {
  const { d, need } = checker(JOB.sync, data);
  for (const k of ['scope', 'reason', 'retryOf', 'configDigest', 'configFile'] as const)
    need(optional(d[k], isString), `${k} must be a string`);
  for (const k of ['startedAt', 'total'] as const) need(optional(d[k], isNumber), `${k} must be a number`);
  need(optional(d.step, isMark), 'step must be adding or wait');
  need(optional(d.planned, isObjects), 'planned must be a list of report items');
  const retry = d.retry as Loose | undefined;
  need(optional(retry, isObject), 'retry must be an object');
  if (retry) {
    for (const k of ['images', 'charts', 'files', 'botkube'] as const)
      need(optional(retry[k], isObjects), `retry.${k} must be a list of payloads`);
    for (const k of ['imageEntries', 'chartEntries'] as const)
      need(optional(retry[k], isStrings), `retry.${k} must be a list of strings`);
  }
  const entries = d.retryEntries as Loose | undefined;
  need(
    optional(
      entries,
      (v) => isObject(v) && isStrings((v as Loose).imageEntries) && isStrings((v as Loose).chartEntries),
    ),
    'retryEntries must hold imageEntries and chartEntries',
  );
  return d as SyncRunPayload;
}

/** A run's data for whoever only reads it (`runs show`, a follower): what does not parse reads as empty. */
export function readSyncRunPayload(data: unknown): SyncRunPayload {
  try {
    return parseSyncRunPayload(data);
  } catch {
    return {};
  }
}

export function parsePublishAddonsPayload(data: unknown): PublishAddonsPayload {
  const { d, need } = checker(JOB.publishAddons, data);
  need(
    optional(d.step, (v) => v === 'plan' || isMark(v)),
    'step must be plan, adding or wait',
  );
  need(optional(d.catalogs, isStrings), 'catalogs must be a list of names');
  const plan = d.plan as Loose | undefined;
  need(optional(plan, isObject), 'plan must be an object');
  if (plan) {
    need(isObjects(plan.catalogs) && isObjects(plan.failures), 'plan must hold catalogs and failures');
    for (const k of ['images', 'charts', 'urls'] as const)
      need(isStrings(plan[k]), `plan.${k} must be a list of strings`);
  }
  return d as PublishAddonsPayload;
}

export function parseRegisterPluginPayload(data: unknown): RegisterPluginPayload {
  const { d, need } = checker(JOB.registerPlugin, data);
  const manifest = d.manifest as Loose | undefined;
  const request = manifest?.request as Loose | undefined;
  need(isObject(manifest) && isObject(request), 'manifest with its request is missing');
  need(isString(request!.plugin_id) && isString(request!.image), 'manifest.request needs plugin_id and image');
  need(isString(manifest!.sourceImage), 'manifest.sourceImage must be a string');
  need(isStrings(manifest!.warnings), 'manifest.warnings must be a list of strings');
  need(optional(d.step, isMark), 'step must be adding or wait');
  for (const k of ['tags', 'warnings'] as const) need(optional(d[k], isStrings), `${k} must be a list of strings`);
  return d as unknown as RegisterPluginPayload;
}
