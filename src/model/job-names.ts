/** Queue and job names shared by producers and workers. */
export const DEFAULT_QUEUE = 'airlock';
/** Hash-tagged so every key of a queue lands on one Redis Cluster slot. */
export const DEFAULT_PREFIX = '{airlock}';

export const JOB = {
  mirrorImage: 'mirror-image',
  mirrorChart: 'mirror-chart',
  mirrorFile: 'mirror-file',
  mirrorBotkube: 'mirror-botkube',
  /** A whole sync run of the worker's config (what schedules fire): a flow parent of one job per artifact. */
  sync: 'sync',
  /** Inside a sync flow: the addon registries, a parent of the charts, images and files the addons need. */
  publishAddons: 'publish-addons',
  /** One chart version an addon needs, tried from each of its sources in turn. */
  mirrorAddonChart: 'mirror-addon-chart',
  /** A SpaceONE plugin's registration: the parent of its image copies, run only once they succeeded. */
  registerPlugin: 'register-plugin',
} as const;

/** Deterministic job id: BullMQ ignores a second add with the same id, so overlapping triggers copy once. Ids must not contain ':'. */
export function mirrorImageJobId(source: string, target: string): string {
  return `img|${source}|${target}`.replace(/:/g, '%3A');
}

export function mirrorChartJobId(source: string, chart: string, version: string, target: string): string {
  return `chart|${source}|${chart}@${version}|${target}`.replace(/:/g, '%3A');
}
