import * as z from 'zod';

export const mirrorChartPayload = z.strictObject({
  /** Classic repository URL or `oci://HOST/PATH`. */
  source: z.string().min(1),
  chart: z.string().min(1),
  version: z.string().min(1),
  /** `oci://…`, `cm+http(s)://…` or a directory. */
  target: z.string().min(1),
  baseUrl: z.string().optional(),
  contextPath: z.string().optional(),
  force: z.boolean().optional(),
  dryRun: z.boolean().optional(),
  /** Also report the images the chart needs (from annotations, .relok8s-images.yaml, values). */
  images: z.boolean().optional(),
  /** Values overrides for finding images (the addon catalog passes its own). */
  values: z.record(z.string(), z.unknown()).optional(),
});

export type MirrorChartPayload = z.infer<typeof mirrorChartPayload>;
