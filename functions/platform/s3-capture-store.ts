import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { DependencyError, NotFoundError } from './errors.js';
import type { CaptureStore, PresignedPost, PresignedPostRequest, StoredObject } from './ports.js';

/** Parts of 8 MiB (S3's minimum is 5 MiB), 4 in flight: bounded memory (~40 MiB) whatever the object size. */
const PART_SIZE_BYTES = 8 * 1024 * 1024;
const QUEUE_SIZE = 4;

/**
 * Bodies are sent with `x-amz-content-sha256: UNSIGNED-PAYLOAD`: the signature then covers the headers but not
 * the payload, so the SDK does not SHA-256 every byte it uploads (~1.3 ms of CPU per MB: ~0.3 s per 100 MB
 * capture between the upload gateway and parse-capture's outputs). S3 accepts it for PutObject and UploadPart
 * (it is what the SDK itself sends for streams); over HTTPS, TLS protects the payload. Set before signing
 * (the `build` step precedes `finalizeRequest`), the signer uses the header's value as the payload hash.
 */
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
const UNSIGNED_COMMANDS = new Set(['PutObjectCommand', 'UploadPartCommand']);

/** Adds the UNSIGNED-PAYLOAD header to the client's PutObject and UploadPart requests (idempotent: one name). */
function sendPayloadUnsigned(client: S3Client): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request: unknown = args.request;
      if (
        UNSIGNED_COMMANDS.has(context.commandName ?? '') &&
        typeof request === 'object' &&
        request !== null &&
        'headers' in request
      ) {
        (request as { headers: Record<string, string> }).headers['x-amz-content-sha256'] = UNSIGNED_PAYLOAD;
      }
      return next(args);
    },
    { step: 'build', name: 'ccfUnsignedPayload', override: true },
  );
}

function isNotFound(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return error.name === 'NoSuchKey' || error.name === 'NotFound' || status === 404;
}

function dependencyError(operation: string, key: string, error: unknown): DependencyError {
  const message = error instanceof Error ? error.message : String(error);
  return new DependencyError(
    `S3 ${operation} of ${key} failed: ${message}`,
    { dependency: 's3', key },
    { cause: error },
  );
}

export interface S3CaptureStoreOptions {
  client: S3Client;
  bucket: string;
  /** Client used only to sign POST policies when uploads go to another endpoint; defaults to `client`. */
  postClient?: S3Client;
}

export class S3CaptureStore implements CaptureStore {
  readonly #client: S3Client;
  readonly #postClient: S3Client;
  readonly #bucket: string;

  constructor(options: S3CaptureStoreOptions) {
    this.#client = options.client;
    this.#postClient = options.postClient ?? options.client;
    this.#bucket = options.bucket;
    sendPayloadUnsigned(this.#client);
  }

  async getObject(key: string): Promise<StoredObject> {
    try {
      const output = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key }));
      const body = output.Body as (AsyncIterable<Uint8Array> & Readable) | undefined;
      if (!body) throw new NotFoundError(`Object ${key} has no body`, { key });
      return { body, sizeBytes: output.ContentLength ?? 0, etag: (output.ETag ?? '').replaceAll('"', '') };
    } catch (error) {
      if (error instanceof NotFoundError) throw error;
      if (isNotFound(error))
        throw new NotFoundError(`Object ${key} does not exist`, { key }, { cause: error });
      throw dependencyError('GetObject', key, error);
    }
  }

  /**
   * A stream of unknown length: one PutObject when it ends within the first part, otherwise a multipart upload
   * (parts of PART_SIZE_BYTES, QUEUE_SIZE in flight; the stream is paused while they are). Chunks are taken as
   * the stream emits them ('data' events, not `read()`, which concatenates what is buffered) and copied once
   * into their part. A stream that errors aborts the upload, so nothing is stored (the upload gateway and
   * parse-capture rely on this).
   */
  async putStream(key: string, body: Readable, contentType: string, contentEncoding?: string): Promise<void> {
    const common = {
      Bucket: this.#bucket,
      Key: key,
      ContentType: contentType,
      ...(contentEncoding ? { ContentEncoding: contentEncoding } : {}),
    };
    const upload = new MultipartWriter(this.#client, common);
    try {
      await upload.consume(body);
    } catch (error) {
      await upload.abort();
      throw dependencyError('Upload', key, error);
    }
  }

  async putBytes(key: string, body: Uint8Array, contentType: string): Promise<void> {
    try {
      await this.#client.send(
        new PutObjectCommand({ Bucket: this.#bucket, Key: key, Body: body, ContentType: contentType }),
      );
    } catch (error) {
      throw dependencyError('PutObject', key, error);
    }
  }

  async createPresignedPost(request: PresignedPostRequest): Promise<PresignedPost> {
    try {
      const post = await createPresignedPost(this.#postClient, {
        Bucket: this.#bucket,
        Key: request.key,
        Conditions: [
          ['content-length-range', 1, request.maxBytes],
          ['eq', '$Content-Type', request.contentType],
        ],
        Fields: { 'Content-Type': request.contentType },
        Expires: request.expiresInS,
      });
      return { url: post.url, fields: post.fields };
    } catch (error) {
      throw dependencyError('presign POST', request.key, error);
    }
  }

  async presignGet(key: string, expiresInS: number, downloadName?: string): Promise<string> {
    const name = downloadName ?? key.slice(key.lastIndexOf('/') + 1);
    return getSignedUrl(
      this.#client,
      new GetObjectCommand({
        Bucket: this.#bucket,
        Key: key,
        ResponseContentDisposition: `attachment; filename="${name.replaceAll('"', '')}"`,
      }),
      { expiresIn: expiresInS },
    );
  }

  async headObject(key: string): Promise<{ sizeBytes: number } | undefined> {
    try {
      const output = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key }));
      return { sizeBytes: output.ContentLength ?? 0 };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw dependencyError('HeadObject', key, error);
    }
  }
}

interface ObjectParams {
  Bucket: string;
  Key: string;
  ContentType: string;
  ContentEncoding?: string;
}

/** One putStream: gathers chunks into parts and uploads them (see `S3CaptureStore.putStream`). */
class MultipartWriter {
  readonly #client: S3Client;
  readonly #params: ObjectParams;
  #uploadId: Promise<string> | undefined;
  readonly #parts: { PartNumber: number; ETag: string }[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  #failure: unknown;

  constructor(client: S3Client, params: ObjectParams) {
    this.#client = client;
    this.#params = params;
  }

  async consume(body: Readable): Promise<void> {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let partNumber = 0;
    await new Promise<void>((resolve, reject) => {
      const fail = (error: unknown) => {
        body.off('data', onData);
        reject(error);
      };
      const onData = (chunk: Buffer | string) => {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        pending.push(bytes);
        pendingBytes += bytes.length;
        if (pendingBytes < PART_SIZE_BYTES) return;
        const part = Buffer.concat(pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
        const sent = this.#sendPart(++partNumber, part);
        this.#inFlight.add(sent);
        sent.then(
          () => {
            this.#inFlight.delete(sent);
            if (body.isPaused() && this.#inFlight.size < QUEUE_SIZE) body.resume();
          },
          (error: unknown) => {
            this.#inFlight.delete(sent);
            this.#failure ??= error;
            body.destroy();
            fail(error);
          },
        );
        if (this.#inFlight.size >= QUEUE_SIZE) body.pause();
      };
      body.on('data', onData);
      body.on('error', fail);
      body.once('close', () => {
        // 'close' without 'end' (destroyed): the producer gave up; the upload must not complete.
        if (!body.readableEnded) fail(this.#failure ?? new Error('the stream was closed before its end'));
      });
      body.once('end', () => resolve());
    });
    const last = Buffer.concat(pending, pendingBytes);
    if (this.#uploadId === undefined) {
      // It all fitted in one part: one request, as S3 stores small objects.
      await this.#client.send(new PutObjectCommand({ ...this.#params, Body: last }));
      return;
    }
    // A last part may be empty only when it is the only one; otherwise an empty tail adds no part.
    if (last.length > 0) await this.#sendPart(++partNumber, last);
    await Promise.all(this.#inFlight);
    const uploadId = await this.#uploadId;
    this.#parts.sort((a, b) => a.PartNumber - b.PartNumber);
    await this.#client.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.#params.Bucket,
        Key: this.#params.Key,
        UploadId: uploadId,
        MultipartUpload: { Parts: this.#parts },
      }),
    );
  }

  /** Aborts the multipart upload (if one was started) so its parts are not kept; best effort. */
  async abort(): Promise<void> {
    if (this.#uploadId === undefined) return;
    const uploadId = await this.#uploadId.catch(() => undefined);
    await Promise.allSettled(this.#inFlight);
    if (uploadId === undefined) return;
    await this.#client
      .send(
        new AbortMultipartUploadCommand({
          Bucket: this.#params.Bucket,
          Key: this.#params.Key,
          UploadId: uploadId,
        }),
      )
      .catch(() => undefined);
  }

  async #sendPart(partNumber: number, body: Buffer): Promise<void> {
    if (this.#uploadId === undefined) {
      this.#uploadId = this.#client.send(new CreateMultipartUploadCommand(this.#params)).then((created) => {
        if (!created.UploadId) throw new Error('CreateMultipartUpload returned no UploadId');
        return created.UploadId;
      });
    }
    const uploadId = await this.#uploadId;
    const output = await this.#client.send(
      new UploadPartCommand({
        Bucket: this.#params.Bucket,
        Key: this.#params.Key,
        UploadId: uploadId,
        PartNumber: partNumber,
        Body: body,
        ContentLength: body.length,
      }),
    );
    if (!output.ETag) throw new Error(`UploadPart ${partNumber} returned no ETag`);
    this.#parts.push({ PartNumber: partNumber, ETag: output.ETag });
  }
}
