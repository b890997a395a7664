import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { type S3rverProcess, startS3rver } from '../../../functions/local/s3rver-process.js';
import { S3CaptureStore } from '../../../functions/platform/s3-capture-store.js';

/**
 * The S3 adapter's own multipart upload (no lib-storage) and its unsigned payloads, against s3rver over a real
 * socket: what goes in comes back byte for byte, small streams take one PutObject, and a stream that fails
 * part-way stores no object and aborts its multipart upload.
 */
const BUCKET = 'store-test';
let s3rver: S3rverProcess;
let dataDir: string;
let client: S3Client;
let store: S3CaptureStore;
const payloadHashes: string[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'ccf-store-'));
  s3rver = await startS3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: dataDir,
    vhostBuckets: false,
    configureBuckets: [{ name: BUCKET }],
  });
  client = new S3Client({
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${s3rver.port}`,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  store = new S3CaptureStore({ client, bucket: BUCKET });
  // After signing (the deserialize step wraps the transport): the payload hash each body request was signed with.
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      payloadHashes.push(`${context.commandName} ${request.headers?.['x-amz-content-sha256']}`);
      return next(args);
    },
    { step: 'deserialize', name: 'recordPayloadHash' },
  );
});

afterAll(async () => {
  client?.destroy();
  await s3rver?.close();
  await rm(dataDir, { recursive: true, force: true });
});

/** Deterministic bytes (not all equal, so a misplaced part would show). */
function bytesOf(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

async function readBack(key: string): Promise<Buffer> {
  const object = await store.getObject(key);
  const chunks: Buffer[] = [];
  for await (const chunk of object.body) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** Writes `data` into a stream in uneven chunks, waiting for drain as a producer does. */
async function produce(stream: PassThrough, data: Buffer, chunkBytes: number): Promise<void> {
  for (let at = 0; at < data.length; at += chunkBytes) {
    if (!stream.write(data.subarray(at, at + chunkBytes)))
      await new Promise((resolve) => stream.once('drain', resolve));
  }
  stream.end();
}

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('S3CaptureStore on s3rver', () => {
  it('stores a stream of several parts (multipart) byte for byte, with content type and encoding', async () => {
    const data = bytesOf(21 * 1024 * 1024 + 12_345, 7);
    const body = new PassThrough({ highWaterMark: 1024 * 1024 });
    const stored = store.putStream('multi/object.bin', body, 'text/csv', 'gzip');
    await produce(body, data, 100_003);
    await stored;
    const back = await readBack('multi/object.bin');
    expect(back.length).toBe(data.length);
    expect(sha(back)).toBe(sha(data));
    expect((await store.headObject('multi/object.bin'))?.sizeBytes).toBe(data.length);
    // A ranged read (s3rver's read path is replaced in its child: 1 MiB reads).
    const ranged = await client.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: 'multi/object.bin', Range: 'bytes=8388000-8390000' }),
    );
    const rangedBytes = Buffer.from((await ranged.Body?.transformToByteArray()) ?? []);
    expect(rangedBytes.equals(data.subarray(8_388_000, 8_390_001))).toBe(true);
    // S3's multipart ETag: MD5 of the parts' MD5s, then the part count (3 parts of ≥ 8 MiB, the last shorter).
    expect((await store.getObject('multi/object.bin')).etag).toMatch(/^[0-9a-f]{32}-3$/);
    // Bodies are signed without hashing them.
    expect(payloadHashes.filter((line) => line.startsWith('UploadPartCommand'))).toEqual([
      'UploadPartCommand UNSIGNED-PAYLOAD',
      'UploadPartCommand UNSIGNED-PAYLOAD',
      'UploadPartCommand UNSIGNED-PAYLOAD',
    ]);
  });

  it('stores a stream shorter than a part with one PutObject (a plain ETag) and an empty stream as an empty object', async () => {
    const data = bytesOf(300_000, 3);
    const body = new PassThrough();
    const stored = store.putStream('small/object.bin', body, 'text/csv');
    await produce(body, data, 65_536);
    await stored;
    expect(sha(await readBack('small/object.bin'))).toBe(sha(data));
    expect((await store.getObject('small/object.bin')).etag).toBe(
      createHash('md5').update(data).digest('hex'),
    );

    const empty = new PassThrough();
    const storedEmpty = store.putStream('small/empty.bin', empty, 'text/csv');
    empty.end();
    await storedEmpty;
    expect((await readBack('small/empty.bin')).length).toBe(0);
  });

  it('putBytes stores its bytes as they are', async () => {
    const data = bytesOf(1_000_000, 11);
    await store.putBytes('bytes/object.bin', data, 'text/csv');
    expect(sha(await readBack('bytes/object.bin'))).toBe(sha(data));
  });

  it('a stream destroyed after some parts were sent stores nothing and aborts its multipart upload', async () => {
    const sent: string[] = [];
    const send = client.send.bind(client);
    const spy = vi.spyOn(client, 'send').mockImplementation(((command: { constructor: { name: string } }) => {
      sent.push(command.constructor.name);
      return send(command as Parameters<typeof send>[0]);
    }) as typeof client.send);
    onTestFinished(() => spy.mockRestore());
    const body = new PassThrough({ highWaterMark: 1024 * 1024 });
    const stored = store.putStream('failed/object.bin', body, 'text/csv');
    const data = bytesOf(18 * 1024 * 1024, 5);
    for (let at = 0; at < data.length; at += 1024 * 1024) {
      if (!body.write(data.subarray(at, at + 1024 * 1024)))
        await new Promise((resolve) => body.once('drain', resolve));
    }
    body.destroy(new Error('producer failed'));
    await expect(stored).rejects.toThrow(/S3 Upload of failed\/object.bin failed: producer failed/);
    expect(await store.headObject('failed/object.bin')).toBeUndefined();
    // Parts were sent, then the upload was aborted (s3rver has no AbortMultipartUpload, so ask the client).
    expect(sent).toContain('UploadPartCommand');
    expect(sent).toContain('AbortMultipartUploadCommand');
    expect(sent).not.toContain('CompleteMultipartUploadCommand');
  });
});

describe('s3rver multipart completion without `cat`', () => {
  it('concatenates the parts with reads and writes when the system has no cat (as on Windows)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ccf-store-nocat-'));
    const path = process.env.PATH;
    // The child inherits PATH when it is spawned: without cat there, completion takes the fallback.
    process.env.PATH = join(dir, 'no-such-bin');
    let server: S3rverProcess | undefined;
    try {
      server = await startS3rver({
        address: '127.0.0.1',
        port: 0,
        silent: true,
        directory: dir,
        vhostBuckets: false,
        configureBuckets: [{ name: BUCKET }],
      });
    } finally {
      process.env.PATH = path;
    }
    const plain = new S3Client({
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${server.port}`,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    try {
      const fallbackStore = new S3CaptureStore({ client: plain, bucket: BUCKET });
      const data = bytesOf(17 * 1024 * 1024 + 3, 9);
      const body = new PassThrough({ highWaterMark: 1024 * 1024 });
      const stored = fallbackStore.putStream('nocat/object.bin', body, 'text/csv');
      await produce(body, data, 1024 * 1024);
      await stored;
      const object = await fallbackStore.getObject('nocat/object.bin');
      const chunks: Buffer[] = [];
      for await (const chunk of object.body) chunks.push(Buffer.from(chunk));
      expect(sha(Buffer.concat(chunks))).toBe(sha(data));
      expect(object.etag).toMatch(/^[0-9a-f]{32}-3$/);
    } finally {
      plain.destroy();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
