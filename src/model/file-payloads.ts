import * as z from 'zod';

const staticTarget = z.strictObject({ dir: z.string().min(1), baseUrl: z.string().min(1) });
const secretRef = z.union([z.strictObject({ env: z.string() }), z.strictObject({ file: z.string() })]);

export const mirrorFilePayload = z.strictObject({
  url: z.string().min(1),
  checksum: z.string().optional(),
  target: staticTarget,
});
export const mirrorBotkubePayload = z.strictObject({
  name: z.string().min(1),
  url: z.string().min(1),
  /** Header values as env/file references: a job payload never carries a secret itself. */
  headers: z.record(z.string(), secretRef).optional(),
  plugins: z.array(z.string()).optional(),
  versions: z.array(z.string()).optional(),
  target: staticTarget,
});

export type MirrorFilePayload = z.infer<typeof mirrorFilePayload>;
export type MirrorBotkubePayload = z.infer<typeof mirrorBotkubePayload>;
