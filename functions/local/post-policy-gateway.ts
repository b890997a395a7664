import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { z } from 'zod';
import type { CaptureStore } from '../platform/ports.js';

/**
 * S3's browser-based POST upload, with the policy checks s3rver leaves out (it ignores `policy`):
 * signature V4 over the base64 policy, expiration, and every condition (bucket, key, eq, starts-with,
 * content-length-range). Accepted files are stored with the same CaptureStore the handlers use, so
 * s3rver emits its ObjectCreated event as for any other put. Refusals answer with S3's XML error codes.
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

export function verifyPolicy(
  fields: Map<string, string>,
  fileSize: number,
  options: PostGatewayOptions,
  now: Date,
) {
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
      if (fileSize < min)
        throw new PolicyRefusal(
          'EntityTooSmall',
          'Your proposed upload is smaller than the minimum allowed size',
          400,
        );
      if (fileSize > max)
        throw new PolicyRefusal(
          'EntityTooLarge',
          'Your proposed upload exceeds the maximum allowed size',
          400,
        );
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
}

function xmlError(response: ServerResponse, status: number, code: string, message: string): void {
  response.writeHead(status, { 'Content-Type': 'application/xml', 'Access-Control-Allow-Origin': '*' });
  response.end(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`,
  );
}

/** Handles one `POST /<bucket>` form upload. */
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
  try {
    let form: FormData;
    try {
      form = await new Request('http://local/upload', {
        method: 'POST',
        headers: { 'content-type': request.headers['content-type'] ?? '' },
        body: Readable.toWeb(request) as ReadableStream<Uint8Array>,
        duplex: 'half',
      } as RequestInit).formData();
    } catch {
      throw new PolicyRefusal(
        'MalformedPOSTRequest',
        'The body of your POST request is not well-formed multipart/form-data.',
        400,
      );
    }
    const fields = new Map<string, string>();
    let file: File | undefined;
    for (const [name, entry] of form.entries()) {
      if (typeof entry === 'string') fields.set(name.toLowerCase(), entry);
      else if (name === 'file') file = entry;
    }
    if (!file)
      throw new PolicyRefusal('InvalidArgument', 'POST requires exactly one file upload per request.', 400);
    verifyPolicy(fields, file.size, options, new Date());
    const key = fields.get('key') ?? '';
    await options.store.putBytes(
      key,
      new Uint8Array(await file.arrayBuffer()),
      fields.get('content-type') ?? 'binary/octet-stream',
    );
    response.writeHead(204, { 'Access-Control-Allow-Origin': '*', Location: `/${options.bucket}/${key}` });
    response.end();
  } catch (error) {
    if (error instanceof PolicyRefusal) {
      xmlError(response, error.status, error.s3Code, error.message);
      return;
    }
    xmlError(response, 500, 'InternalError', error instanceof Error ? error.message : 'internal error');
  }
}
