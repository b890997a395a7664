/**
 * The one error family of CCF-Catcher. Every error the core raises on bad input is a `CcfError`
 * with a stable `code`, a message that says what is wrong and where, and machine-readable `details`.
 * HTTP handlers and the CLI map these (and only these) to responses and exit codes in one place each.
 * Pure module: no AWS, no I/O.
 */
export type ErrorDetails = Readonly<
  Record<string, string | number | boolean | readonly string[] | undefined>
>;

export abstract class CcfError extends Error {
  abstract readonly code: string;
  readonly details: ErrorDetails;

  constructor(message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.details = details;
  }
}

/** The input is not a capture file at all (unknown magic, empty file). */
export class NotACaptureError extends CcfError {
  readonly code = 'NOT_A_CAPTURE';
}

/**
 * The capture is damaged at a known place. Readers raise it after yielding every packet they could read,
 * so callers keep what was readable. `byteOffset` is counted in the (decompressed) capture stream.
 */
export class PcapFormatError extends CcfError {
  readonly code = 'PCAP_FORMAT';
  readonly byteOffset: number;
  readonly blockType: string | undefined;

  constructor(message: string, byteOffset: number, blockType?: string, options?: { cause?: unknown }) {
    super(
      `${message} (at byte offset ${byteOffset}${blockType ? `, in ${blockType}` : ''})`,
      { byteOffset, blockType },
      options,
    );
    this.byteOffset = byteOffset;
    this.blockType = blockType;
  }
}

/** A safety limit (largest block, largest snaplen, most open flows, ...) was exceeded by the input. */
export class LimitExceededError extends CcfError {
  readonly code = 'LIMIT_EXCEEDED';
}

/** A protocol name map file (protocol/ETHER ...) is missing or has a malformed line. */
export class ProtocolMapError extends CcfError {
  readonly code = 'PROTOCOL_MAP';
}

/** A record lacks the columns a model needs. */
export class FeatureSchemaError extends CcfError {
  readonly code = 'FEATURE_SCHEMA';
}

/** Request or record failed schema validation; `details.field` names the offending field. */
export class ValidationError extends CcfError {
  readonly code = 'VALIDATION';
}

/** Something asked for does not exist (capture id, model file, ...). */
export class NotFoundError extends CcfError {
  readonly code = 'NOT_FOUND';
}

/** The payload is larger than this path accepts; `details.limit` says the limit. */
export class PayloadTooLargeError extends CcfError {
  readonly code = 'PAYLOAD_TOO_LARGE';
}

/** Configuration is missing or invalid; named setting in `details.setting`. */
export class ConfigError extends CcfError {
  readonly code = 'CONFIG';
}

/** A model file or manifest is missing, altered (sha256 mismatch) or unusable. */
export class ModelError extends CcfError {
  readonly code = 'MODEL';
}

/** A downstream dependency (S3, DynamoDB, Kafka, OpenSearch) failed; `details.dependency` names it. */
export class DependencyError extends CcfError {
  readonly code = 'DEPENDENCY';
}

export function isCcfError(error: unknown): error is CcfError {
  return error instanceof CcfError;
}

/** The request conflicts with one made before (an idempotency key reused with another body, or still running). */
export class ConflictError extends CcfError {
  readonly code = 'CONFLICT';
}
