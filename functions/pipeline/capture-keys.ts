import { ValidationError } from '../platform/errors.js';

/**
 * The bucket layout. Uploads and derived files live under fixed prefixes so S3 notifications can
 * route `uploads/` to parse-capture and `features/` to score-flows.
 */
export const UPLOAD_PREFIX = 'uploads/';
export const FEATURES_PREFIX = 'features/';

const CAPTURE_ID = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;

export function isCaptureId(value: string): boolean {
  return CAPTURE_ID.test(value);
}

export function assertCaptureId(value: string, field = 'id'): string {
  if (!isCaptureId(value))
    throw new ValidationError(`${field} is not a capture id: ${value.slice(0, 80)}`, { field });
  return value;
}

/** Keeps a client's file name safe as an S3 key segment (no slashes, no control characters). */
export function safeFileName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  const cleaned = base.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '');
  return (cleaned === '' ? 'capture' : cleaned).slice(0, 200);
}

export function uploadKey(captureId: string, filename: string): string {
  return `${UPLOAD_PREFIX}${captureId}/${safeFileName(filename)}`;
}

export function derivedKeys(captureId: string) {
  return {
    packets: `packets/${captureId}.csv.gz`,
    flows: `flows/${captureId}.csv`,
    features: `${FEATURES_PREFIX}${captureId}/`,
  };
}

/**
 * A features part (see feature-parts.ts): `features/{id}/{first flow, 9 digits}.csv`, and `….last.csv` for the
 * capture's last part, whose scorer waits for PARSED and completes the capture if every part is scored.
 */
export function featurePartKey(captureId: string, firstFlow: number, last: boolean): string {
  return `${FEATURES_PREFIX}${captureId}/${String(firstFlow).padStart(9, '0')}${last ? '.last' : ''}.csv`;
}

export interface FeaturePartKey {
  captureId: string;
  firstFlow: number;
  last: boolean;
}

/** The capture, first flow and last-part flag of a features part key; undefined for other keys. */
export function parseFeaturePartKey(key: string): FeaturePartKey | undefined {
  const match = /^features\/([A-Za-z0-9-]+)\/(\d{9,12})(\.last)?\.csv$/.exec(key);
  const id = match?.[1];
  if (!match || !id || !isCaptureId(id)) return undefined;
  const firstFlow = Number(match[2]);
  return firstFlow >= 1 ? { captureId: id, firstFlow, last: match[3] !== undefined } : undefined;
}

/** The capture id an S3 key belongs to, or undefined for keys outside the layout. */
export function captureIdOfUploadKey(key: string): string | undefined {
  if (!key.startsWith(UPLOAD_PREFIX)) return undefined;
  const id = key.slice(UPLOAD_PREFIX.length).split('/')[0] ?? '';
  return isCaptureId(id) ? id : undefined;
}

/** Deterministic prediction id of the n-th flow (1-based) of a capture; zero-padded so ids sort by flow. */
export function flowPredictionId(captureId: string, flowIndex: number): string {
  return `${captureId}:${String(flowIndex).padStart(9, '0')}`;
}
