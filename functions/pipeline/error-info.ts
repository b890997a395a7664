import { isCcfError } from '../platform/errors.js';
import type { CaptureErrorInfo, PipelineStage } from '../platform/ports.js';

/** A typed error as stored on the capture record (`errors[]`), keeping the reader's code and details. */
export function errorInfo(
  stage: CaptureErrorInfo['stage'] | PipelineStage,
  error: unknown,
): CaptureErrorInfo {
  if (isCcfError(error)) {
    const details: CaptureErrorInfo['details'] = {};
    for (const [key, value] of Object.entries(error.details)) {
      if (value === undefined) continue;
      details[key] = Array.isArray(value) ? value.join(', ') : (value as string | number | boolean);
    }
    return { stage, code: error.code, name: error.name, message: error.message, details };
  }
  return {
    stage,
    code: 'INTERNAL',
    name: error instanceof Error ? error.name : 'Error',
    message: error instanceof Error ? error.message : String(error),
    details: {},
  };
}
