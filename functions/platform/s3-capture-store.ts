import type { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { DependencyError, NotFoundError } from './errors.js';
import type { CaptureStore, PresignedPost, PresignedPostRequest, StoredObject } from './ports.js';

/** Parts of 8 MiB, 4 in flight: bounded memory (~32 MiB) whatever the object size. */
const PART_SIZE_BYTES = 8 * 1024 * 1024;
const QUEUE_SIZE = 4;

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

  async putStream(key: string, body: Readable, contentType: string, contentEncoding?: string): Promise<void> {
    const upload = new Upload({
      client: this.#client,
      params: {
        Bucket: this.#bucket,
        Key: key,
        Body: body,
        ContentType: contentType,
        ...(contentEncoding ? { ContentEncoding: contentEncoding } : {}),
      },
      partSize: PART_SIZE_BYTES,
      queueSize: QUEUE_SIZE,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (error) {
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
