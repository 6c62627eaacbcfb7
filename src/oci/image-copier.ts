import type { CopyRequest, CopyResult } from './copy-image.js';
import type { ImageEndpoint } from './image-endpoint.js';
import type { ImageRef } from './reference.js';

/** The image engine as the image jobs see it: one copier with the process's ledger and limits, and a view of any image store. */
export interface ImageCopier {
  endpoint(ref: ImageRef): ImageEndpoint;
  /** `req.progress` hears the bytes of this copy only (a display, or a queued job's progress). */
  copy(req: CopyRequest): Promise<CopyResult>;
}
