import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { stopChild } from './child-server.js';

/**
 * s3rver in its own process (like dynalite): it hashes (MD5 ETags), parses and writes every byte uploaded,
 * ~250 MB per 100 MB capture (the capture, then packets, flows and features), and in the handlers' process
 * that work competed with parsing and scoring for one event loop. Its `event` (the real S3 event shape,
 * standing in for bucket notifications) comes back over the IPC channel, in order.
 *
 * The child is a few lines of plain JavaScript given with `-e`, so it runs the same under tsx, vitest and
 * the compiled CLI; it imports s3rver by the path this module resolves.
 */
export interface S3rverOptions {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  vhostBuckets: boolean;
  configureBuckets: { name: string }[];
}

export interface S3rverProcess {
  port: number;
  onEvent(listener: (event: unknown) => void): void;
  close(): Promise<void>;
}

/**
 * Three methods of s3rver's filesystem store are replaced in the child (s3rver 3.7, pinned in package-lock):
 * - Completing a multipart upload read every part back through streams, MD5-hashed the whole object and wrote it
 *   again: for a 115 MB capture ~0.6 s of s3rver's CPU after the last part, on the pipeline's critical path
 *   (parse-capture starts on the ObjectCreated event it sends). Now the part files are concatenated by the system's
 *   `cat` (an in-kernel copy; reads and writes here where there is none) and the ETag is S3's own multipart form,
 *   the MD5 of the parts' MD5s followed by `-{part count}`.
 * - Storing an object or a part resolved when its bytes had been handed to the file stream, not when they were
 *   written: the ObjectCreated event (and a completion reading the parts) could come before the last bytes were
 *   on disk, and a GET then saw a shorter file. Now it resolves once the file is closed, and an aborted request
 *   rejects instead of leaving the store waiting forever. Bodies are written ~1 MiB at a time (one `writev` per
 *   batch of socket chunks) rather than one write per 64 KiB chunk.
 * - Reading an object uses 1 MiB reads (s3rver's own code with a larger highWaterMark): 16× fewer chunks through
 *   koa and the socket for the capture parse-capture reads and the parts score-flows reads.
 */
const CHILD_SOURCE = `
const { default: S3rver } = await import(process.env.CCF_S3RVER_URL);
const { default: FilesystemStore } = await import(process.env.CCF_S3RVER_STORE_URL);
const { default: S3Error } = await import(new URL('../models/error.js', process.env.CCF_S3RVER_STORE_URL).href);
const { default: S3Object } = await import(new URL('../models/object.js', process.env.CCF_S3RVER_STORE_URL).href);
const { spawn } = await import('node:child_process');
const { createHash } = await import('node:crypto');
const { createReadStream } = await import('node:fs');
const fs = await import('node:fs/promises');
const { dirname, join } = await import('node:path');

// Bodies are written in batches of ~1 MiB (one writev each) instead of one write per 64 KiB socket chunk: each
// write is a round trip to the thread pool, ~3,000 per 100 MB capture's objects before.
const WRITE_BATCH_BYTES = 1024 * 1024;
async function writeHashed(path, content) {
  await fs.mkdir(dirname(path), { recursive: true });
  const md5 = createHash('md5');
  let size = 0;
  if (Buffer.isBuffer(content)) {
    md5.update(content);
    size = content.length;
    await fs.writeFile(path, content);
    return { size, md5: md5.digest('hex') };
  }
  const file = await fs.open(path, 'w');
  try {
    let batch = [];
    let batchBytes = 0;
    const flush = async () => {
      let chunks = batch;
      let left = batchBytes;
      batch = [];
      batchBytes = 0;
      while (left > 0) {
        const { bytesWritten } = await file.writev(chunks);
        left -= bytesWritten;
        if (left > 0) chunks = [Buffer.concat(chunks).subarray(bytesWritten)];
      }
    };
    // An aborted request ends this loop with an error, so the put rejects instead of waiting for ever.
    for await (const chunk of content) {
      md5.update(chunk);
      size += chunk.length;
      batch.push(chunk);
      batchBytes += chunk.length;
      if (batchBytes >= WRITE_BATCH_BYTES) await flush();
    }
    await flush();
  } finally {
    await file.close();
  }
  return { size, md5: md5.digest('hex') };
}

// s3rver's getObject with 1 MiB reads instead of the default 64 KiB: the pipeline reads every object it writes
// (the capture, its features parts), and each chunk costs a callback and a socket write in this process.
const READ_CHUNK_BYTES = 1024 * 1024;
FilesystemStore.prototype.getObject = async function (bucket, key, options) {
  try {
    const metadata = await this.getMetadata(bucket, key);
    const lastByte = Math.max(0, Number(metadata['content-length']) - 1);
    const range = {
      start: (options && options.start) || 0,
      end: Math.min((options && options.end) || Infinity, lastByte),
    };
    const ranged = options && (options.start !== undefined || options.end);
    if (range.start < 0 || Math.min(range.end, lastByte) < range.start) {
      const object = new S3Object(bucket, key, null, metadata);
      if (ranged) object.range = range;
      return object;
    }
    const content = await new Promise((resolve, reject) => {
      const stream = createReadStream(this.getResourcePath(bucket, key, 'object'), { ...range, highWaterMark: READ_CHUNK_BYTES })
        .on('error', reject)
        .on('open', () => resolve(stream));
    });
    const object = new S3Object(bucket, key, content, metadata);
    if (ranged) object.range = range;
    return object;
  } catch (err) {
    if (err.code === 'ENOENT') return null;
    throw err;
  }
};

FilesystemStore.prototype.putObject = async function (object) {
  const { size, md5 } = await writeHashed(this.getResourcePath(object.bucket, object.key, 'object'), object.content);
  await this.putMetadata(object.bucket, object.key, object.metadata, md5);
  return { size, md5 };
};

FilesystemStore.prototype.putPart = async function (bucket, uploadId, partNumber, content) {
  const partPath = join(this.getResourcePath(bucket, undefined, 'uploads'), uploadId, String(partNumber));
  const { size, md5 } = await writeHashed(partPath, content);
  await fs.writeFile(partPath + '.md5', md5);
  return { size, md5 };
};

// Appends the part files to the object with the system's cat: coreutils copies file to file inside the kernel
// (copy_file_range), ~50-150 ms for a 115 MB capture against ~150-370 ms of reads and writes here (and no 8 MiB
// buffers for the collector); a completion is on the critical path of every upload. Where there is no cat
// (Windows) or it fails, the parts are copied with reads and writes at explicit positions.
async function concatenate(dir, names, objectPath) {
  const target = await fs.open(objectPath, 'w');
  try {
    const viaCat = await new Promise((resolve) => {
      try {
        const child = spawn('cat', names, { cwd: dir, stdio: ['ignore', target.fd, 'ignore'] });
        child.once('error', () => resolve(false));
        child.once('exit', (code) => resolve(code === 0));
      } catch {
        resolve(false);
      }
    });
    if (viaCat) return;
    await target.truncate(0);
    let position = 0;
    for (const name of names) {
      const bytes = await fs.readFile(join(dir, name));
      for (let at = 0; at < bytes.length; ) {
        const { bytesWritten } = await target.write(bytes, at, bytes.length - at, position);
        at += bytesWritten;
        position += bytesWritten;
      }
    }
  } finally {
    await target.close();
  }
}

FilesystemStore.prototype.putObjectMultipart = async function (bucket, uploadId, parts) {
  const uploadDir = join(this.getResourcePath(bucket, undefined, 'uploads'), uploadId);
  const [key, metadata] = await Promise.all([
    fs.readFile(join(uploadDir, 'key'), 'utf8'),
    fs.readFile(join(uploadDir, 'metadata'), 'utf8').then(JSON.parse),
  ]);
  const objectPath = this.getResourcePath(bucket, key, 'object');
  await fs.mkdir(dirname(objectPath), { recursive: true });
  const sorted = [...parts].sort((a, b) => a.number - b.number);
  const etags = createHash('md5');
  for (const part of sorted) {
    const stored = await fs.readFile(join(uploadDir, String(part.number)) + '.md5', 'utf8').catch(() => '');
    if (stored !== part.etag) {
      throw new S3Error('InvalidPart', 'One or more of the specified parts could not be found.', { PartNumber: part.number });
    }
    etags.update(Buffer.from(part.etag, 'hex'));
  }
  await concatenate(uploadDir, sorted.map((part) => String(part.number)), objectPath);
  const { size } = await fs.stat(objectPath);
  const md5 = etags.digest('hex') + '-' + sorted.length;
  await this.putMetadata(bucket, key, metadata, md5);
  await fs.rm(uploadDir, { recursive: true, force: true });
  return { size, md5 };
};

const server = new S3rver(JSON.parse(process.env.CCF_S3RVER_OPTIONS));
const address = await server.run();
server.on('event', (event) => process.send({ type: 'event', event }));
process.on('message', (message) => {
  if (message === 'close') server.close().then(() => process.exit(0), () => process.exit(1));
});
process.on('disconnect', () => process.exit(0));
// The terminal's Ctrl-C reaches the whole process group: the runtime finishes its in-flight work against this
// store, then closes it ('close' above, or the channel).
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
process.send({ type: 'listening', port: address.port });
`;

const messageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('listening'), port: z.number().int() }),
  z.object({ type: z.literal('event'), event: z.unknown() }),
]);

export async function startS3rver(options: S3rverOptions): Promise<S3rverProcess> {
  const require = createRequire(import.meta.url);
  const url = pathToFileURL(require.resolve('s3rver')).href;
  const storeUrl = pathToFileURL(require.resolve('s3rver/lib/stores/filesystem.js')).href;
  const child: ChildProcess = spawn(process.execPath, ['--input-type=module', '-e', CHILD_SOURCE], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: {
      ...process.env,
      CCF_S3RVER_URL: url,
      CCF_S3RVER_STORE_URL: storeUrl,
      CCF_S3RVER_OPTIONS: JSON.stringify(options),
      // s3rver's list pagination needs the legacy provider on current OpenSSL (see docs/pipeline.md).
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --openssl-legacy-provider`.trim(),
    },
  });
  const listeners: ((event: unknown) => void)[] = [];
  const port = await new Promise<number>((ready, fail) => {
    const onExit = (code: number | null) => fail(new Error(`s3rver exited with ${code} before listening`));
    child.once('exit', onExit);
    child.on('message', (raw: unknown) => {
      const message = messageSchema.safeParse(raw);
      if (!message.success) return;
      if (message.data.type === 'listening') {
        child.off('exit', onExit);
        ready(message.data.port);
      } else {
        for (const listener of listeners) listener(message.data.event);
      }
    });
  });
  return {
    port,
    onEvent(listener) {
      listeners.push(listener);
    },
    async close() {
      await stopChild(child, () => child.send('close'));
    },
  };
}
