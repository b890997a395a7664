import { createHmac, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import { z } from 'zod';
import type { CaptureStore } from '../platform/ports.js';
import { formBoundary, MalformedFormError, MultipartFormParser } from './multipart-form-reader.js';

/**
 * S3's browser-based POST upload, with the policy checks s3rver leaves out (it ignores `policy`):
 * signature V4 over the base64 policy, expiration, and every condition (bucket, key, eq, starts-with,
 * content-length-range). Accepted files are streamed into the same CaptureStore the handlers use (a multipart
 * upload completed only once the form is accepted), so s3rver emits its ObjectCreated event as for any other
 * put. Refusals answer with S3's XML error codes.
 */
const policySchema = z.object({
  expiration: z.string(),
  conditions: z.array(
    z.union([
      z.record(z.string(), z.string()),
      z.tuple([z.enum(['eq', 'starts-with']), z.string(), z.string()]),
      z.tuple([z.literal('content-length-range'), z.number(), z.number()]),
    ]),
  ),
});

export class PolicyRefusal extends Error {
  constructor(
    readonly s3Code: string,
    message: string,
    readonly status = 403,
  ) {
    super(message);
    this.name = 'PolicyRefusal';
  }
}

export interface PostGatewayOptions {
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  store: CaptureStore;
  /** Largest request body read at all (bigger bodies are refused from their Content-Length). */
  maxBodyBytes: number;
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** The `content-length-range` a policy sets (S3 checks it against the file's size once the file is read). */
export interface LengthRange {
  min: number;
  max: number;
}

/**
 * Checks the signature, expiry and every condition of the policy except `content-length-range`, which needs the
 * file's size: that range is returned, and `checkLength` applies it while the file streams in.
 */
export function verifyPolicy(
  fields: Map<string, string>,
  options: PostGatewayOptions,
  now: Date,
): LengthRange | undefined {
  const policyText = fields.get('policy');
  const signature = fields.get('x-amz-signature');
  const credential = fields.get('x-amz-credential');
  if (!policyText || !signature || !credential) {
    throw new PolicyRefusal('AccessDenied', 'Policy, X-Amz-Signature and X-Amz-Credential are required');
  }
  const [accessKeyId, date, region, service] = credential.split('/');
  if (accessKeyId !== options.accessKeyId || !date || region !== options.region || service !== 's3') {
    throw new PolicyRefusal('InvalidAccessKeyId', 'Unknown credential scope');
  }
  const signingKey = hmac(
    hmac(hmac(hmac(`AWS4${options.secretAccessKey}`, date), region), 's3'),
    'aws4_request',
  );
  const expected = hmac(signingKey, policyText).toString('hex');
  if (
    expected.length !== signature.length ||
    !timingSafeEqual(Buffer.from(expected), Buffer.from(signature))
  ) {
    throw new PolicyRefusal('SignatureDoesNotMatch', 'The request signature does not match');
  }
  const policy = policySchema.parse(JSON.parse(Buffer.from(policyText, 'base64').toString('utf8')));
  if (Date.parse(policy.expiration) < now.getTime()) {
    throw new PolicyRefusal('AccessDenied', 'Invalid according to Policy: Policy expired.');
  }
  const value = (name: string) =>
    name === 'bucket' ? options.bucket : (fields.get(name.toLowerCase()) ?? '');
  let range: LengthRange | undefined;
  for (const condition of policy.conditions) {
    if (!Array.isArray(condition)) {
      for (const [name, wanted] of Object.entries(condition)) {
        if (value(name) !== wanted) {
          throw new PolicyRefusal(
            'AccessDenied',
            `Invalid according to Policy: Policy Condition failed: ${name}`,
          );
        }
      }
      continue;
    }
    if (condition[0] === 'content-length-range') {
      const [, min, max] = condition;
      range = { min: Math.max(range?.min ?? 0, min), max: Math.min(range?.max ?? max, max) };
      continue;
    }
    const [operator, field, wanted] = condition;
    const actual = value(field.replace(/^\$/, ''));
    if (operator === 'eq' ? actual !== wanted : !actual.startsWith(wanted)) {
      throw new PolicyRefusal(
        'AccessDenied',
        `Invalid according to Policy: Policy Condition failed: ${field}`,
      );
    }
  }
  return range;
}

/** S3's answers for a file outside the policy's `content-length-range`. */
export function checkLength(size: number, range: LengthRange | undefined, final: boolean): void {
  if (!range) return;
  if (size > range.max)
    throw new PolicyRefusal('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', 400);
  if (final && size < range.min)
    throw new PolicyRefusal(
      'EntityTooSmall',
      'Your proposed upload is smaller than the minimum allowed size',
      400,
    );
}

function xmlError(response: ServerResponse, status: number, code: string, message: string): void {
  response.writeHead(status, { 'Content-Type': 'application/xml', 'Access-Control-Allow-Origin': '*' });
  response.end(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`,
  );
}

/** S3's limit on the form fields before the file (`MaxPostPreDataLengthExceeded` beyond it). */
const MAX_PRE_DATA_BYTES = 64 * 1024;
const MAX_PART_HEADER_BYTES = 16 * 1024;
/** The file is handed to the store's multipart upload in writes of up to this much (its parts are 8 MiB). */
const FILE_BUFFER_BYTES = 8 * 1024 * 1024;

/** The file part being stored while it streams in. */
interface FileUpload {
  key: string;
  body: PassThrough;
  stored: Promise<void>;
  range: LengthRange | undefined;
  size: number;
  ended: boolean;
}

/**
 * Handles one `POST /<bucket>` form upload as S3 does, streaming: the fields before the `file` part are read and
 * the policy is checked as soon as the file part begins (signature, expiry, conditions); the file is then passed
 * to the store's multipart upload as it arrives, with its size checked against `content-length-range` on the
 * way. The upload is completed (and s3rver emits ObjectCreated) only once the whole form has been read and the
 * size is within the range; any refusal aborts it, so nothing is stored. Fields after the file are ignored, as
 * S3 ignores them.
 */
export async function handlePostUpload(
  request: IncomingMessage,
  response: ServerResponse,
  options: PostGatewayOptions,
): Promise<void> {
  const declared = Number(request.headers['content-length'] ?? Number.NaN);
  if (Number.isFinite(declared) && declared > options.maxBodyBytes) {
    request.resume();
    xmlError(response, 400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size');
    return;
  }
  const fields = new Map<string, string>();
  let preDataBytes = 0;
  let upload: FileUpload | undefined;
  let failure: unknown;
  const fail = (error: unknown) => {
    failure ??= error;
    // Ends the store's multipart upload with an error: it aborts the upload instead of completing it.
    if (upload && !upload.body.destroyed) upload.body.destroy(new Error('upload refused'));
  };
  const boundary = formBoundary(request.headers['content-type']);
  const parser = boundary
    ? new MultipartFormParser(
        boundary,
        {
          part(info) {
            if (upload) return 'skip';
            if (info.name !== 'file') return 'text';
            const range = verifyPolicy(fields, options, new Date());
            const body = new PassThrough({ highWaterMark: FILE_BUFFER_BYTES });
            const key = fields.get('key') ?? '';
            const stored = options.store.putStream(
              key,
              body,
              fields.get('content-type') ?? 'binary/octet-stream',
            );
            // Awaited below (or settled after a refusal); never left unhandled.
            stored.catch(() => undefined);
            upload = { key, body, stored, range, size: 0, ended: false };
            return 'stream';
          },
          text(info, value) {
            preDataBytes += info.name.length + value.length;
            if (preDataBytes > MAX_PRE_DATA_BYTES)
              throw new PolicyRefusal(
                'MaxPostPreDataLengthExceeded',
                'Your POST request fields preceding the upload file were too large.',
                400,
              );
            fields.set(info.name.toLowerCase(), value);
          },
          data(chunk) {
            const file = upload as FileUpload;
            file.size += chunk.length;
            checkLength(file.size, file.range, false);
            file.body.write(chunk);
          },
          streamEnd() {
            (upload as FileUpload).ended = true;
          },
        },
        { headerBytes: MAX_PART_HEADER_BYTES, textBytes: MAX_PRE_DATA_BYTES },
      )
    : undefined;
  if (!parser) fail(malformed());

  // The whole request is read even after a refusal, so the client gets the answer instead of a reset connection
  // (its size is bounded by maxBodyBytes above).
  for await (const chunk of request as AsyncIterable<Buffer>) {
    if (failure !== undefined || !parser) continue;
    try {
      parser.push(chunk);
      const body = upload?.body;
      if (body?.writableNeedDrain) {
        // Backpressure from the store; a failed upload ends the wait too (the losing wait must not reject unheard).
        const drained = once(body, 'drain');
        drained.catch(() => undefined);
        await Promise.race([drained, (upload as FileUpload).stored]);
      }
    } catch (error) {
      fail(error instanceof MalformedFormError ? malformed() : error);
    }
  }
  try {
    if (failure === undefined) {
      parser?.end();
      const file = upload;
      if (!file?.ended)
        throw new PolicyRefusal('InvalidArgument', 'POST requires exactly one file upload per request.', 400);
      checkLength(file.size, file.range, true);
      file.body.end();
      await file.stored;
      response.writeHead(204, {
        'Access-Control-Allow-Origin': '*',
        Location: `/${options.bucket}/${file.key}`,
      });
      response.end();
      return;
    }
  } catch (error) {
    fail(error instanceof MalformedFormError ? malformed() : error);
  }
  await upload?.stored.catch(() => undefined);
  if (failure instanceof PolicyRefusal) {
    xmlError(response, failure.status, failure.s3Code, failure.message);
    return;
  }
  xmlError(response, 500, 'InternalError', failure instanceof Error ? failure.message : 'internal error');
}

function malformed(): PolicyRefusal {
  return new PolicyRefusal(
    'MalformedPOSTRequest',
    'The body of your POST request is not well-formed multipart/form-data.',
    400,
  );
}
