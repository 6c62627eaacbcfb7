import type { AirlockError } from '../core/errors.js';

/** An artifact that failed while its run was being planned (tags not listed, an index not read): it has no payload. */
export interface PlanFailure {
  artifact: string;
  error: AirlockError;
}
