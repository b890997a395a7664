import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';

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

const CHILD_SOURCE = `
const { default: S3rver } = await import(process.env.CCF_S3RVER_URL);
const server = new S3rver(JSON.parse(process.env.CCF_S3RVER_OPTIONS));
const address = await server.run();
server.on('event', (event) => process.send({ type: 'event', event }));
process.on('message', (message) => {
  if (message === 'close') server.close().then(() => process.exit(0), () => process.exit(1));
});
process.on('disconnect', () => process.exit(0));
process.send({ type: 'listening', port: address.port });
`;

const messageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('listening'), port: z.number().int() }),
  z.object({ type: z.literal('event'), event: z.unknown() }),
]);

export async function startS3rver(options: S3rverOptions): Promise<S3rverProcess> {
  const url = pathToFileURL(createRequire(import.meta.url).resolve('s3rver')).href;
  const child: ChildProcess = spawn(process.execPath, ['--input-type=module', '-e', CHILD_SOURCE], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: {
      ...process.env,
      CCF_S3RVER_URL: url,
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
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.send('close');
      await exited;
    },
  };
}
