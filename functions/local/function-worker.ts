import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { S3Schema } from '@aws-lambda-powertools/parser/schemas/s3';
import { z } from 'zod';
import type { RecordOutcome, S3Event } from '../handlers/s3-records.js';
import type { EnvironmentSource } from '../platform/config.js';
import type { PredictionPublisher, PublishResult } from '../platform/ports.js';
import type { Prediction } from '../records/prediction.js';

/**
 * An S3-triggered function (parse-capture, score-flows) in its own worker thread, as Lambda runs each function
 * in its own sandbox: parsing a capture, scoring its features parts and answering HTTP requests then use
 * separate cores instead of taking turns on one event loop (score-flows scores the first parts while
 * parse-capture still reads the capture). Each worker builds its own container from the same settings.
 *
 * A publisher injected into the runtime (the local Kafka bridge's) lives in the main thread; the worker's
 * container gets a proxy that sends each `publish` call there and waits for its result.
 */
export type FunctionName = 'parse-capture' | 'score-flows';

const workerDataSchema = z.object({
  ccfFunction: z.enum(['parse-capture', 'score-flows']),
  settings: z.record(z.string(), z.string().optional()),
  /** Whether the main thread publishes (an injected publisher), and whether that one reads inputs. */
  proxyPublisher: z.boolean(),
  publisherReadsInputs: z.boolean().optional(),
  publisherReadsCsvInputs: z.boolean().optional(),
});

const toWorkerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('invoke'), id: z.number(), event: z.unknown() }),
  z.object({ type: z.literal('published'), id: z.number(), result: z.unknown() }),
  z.object({ type: z.literal('publish-failed'), id: z.number(), message: z.string() }),
]);

const fromWorkerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  z.object({ type: z.literal('start-failed'), message: z.string() }),
  z.object({ type: z.literal('result'), id: z.number(), outcomes: z.array(z.unknown()) }),
  z.object({ type: z.literal('failed'), id: z.number(), message: z.string() }),
  z.object({
    type: z.literal('publish'),
    id: z.number(),
    predictions: z.array(z.unknown()),
    csv: z.object({ columns: z.array(z.string()), lines: z.array(z.string()) }).optional(),
  }),
]);

const recordOutcomeSchema = z.object({ key: z.string(), outcome: z.string(), detail: z.string().optional() });

/** An invocation that failed inside the worker (the handler threw): Lambda's retry policy applies. */
export class FunctionInvocationError extends Error {
  override readonly name = 'FunctionInvocationError';
}

export interface FunctionWorker {
  invoke(event: S3Event): Promise<RecordOutcome[]>;
  close(): Promise<void>;
}

/**
 * The worker is started with a few lines of CommonJS (`eval`), so it runs the same under tsx, vitest and the
 * compiled build: it registers tsx's loader first when this module is TypeScript source.
 */
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
(async () => {
  if (workerData.tsxApi) (await import(workerData.tsxApi)).register();
  await import(workerData.entry);
})().catch((error) => {
  require('node:worker_threads').parentPort.postMessage({ type: 'start-failed', message: String(error && error.stack || error) });
});
`;

/**
 * The function's worker, started now; if the thread dies (an uncaught error in the function), the next
 * invocation starts a fresh one, as Lambda starts a new sandbox after a crash.
 */
export async function startFunctionWorker(
  name: FunctionName,
  settings: EnvironmentSource,
  publisher: PredictionPublisher | undefined,
): Promise<FunctionWorker> {
  let current = spawnWorker(name, settings, publisher);
  await current;
  return {
    async invoke(event) {
      const seen = current;
      let worker = await seen.catch(() => undefined);
      if (!worker || worker.dead()) {
        // One restart, whoever notices first; later callers find the new worker in `current`.
        if (current === seen) current = spawnWorker(name, settings, publisher);
        worker = await current;
      }
      return worker.invoke(event);
    },
    async close() {
      await (await current.catch(() => undefined))?.close();
    },
  };
}

async function spawnWorker(
  name: FunctionName,
  settings: EnvironmentSource,
  publisher: PredictionPublisher | undefined,
): Promise<FunctionWorker & { dead(): boolean }> {
  const entry = import.meta.url;
  // tsx's ESM entry (`require.resolve` gives its CommonJS one, whose loader path breaks when imported).
  const tsxApi = entry.endsWith('.ts')
    ? pathToFileURL(
        createRequire(import.meta.url)
          .resolve('tsx/esm/api')
          .replace(/\.cjs$/, '.mjs'),
      ).href
    : undefined;
  const data: z.infer<typeof workerDataSchema> & { entry: string; tsxApi?: string } = {
    entry,
    ...(tsxApi ? { tsxApi } : {}),
    ccfFunction: name,
    settings: { ...settings },
    proxyPublisher: publisher !== undefined,
    ...(publisher?.readsInputs === undefined ? {} : { publisherReadsInputs: publisher.readsInputs }),
    ...(publisher?.readsCsvInputs === undefined ? {} : { publisherReadsCsvInputs: publisher.readsCsvInputs }),
  };
  const worker = new Worker(BOOTSTRAP, { eval: true, workerData: data });
  const pending = new Map<number, { resolve: (o: RecordOutcome[]) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let failure: Error | undefined;
  const failAll = (error: Error) => {
    failure = error;
    for (const entry of pending.values()) entry.reject(error);
    pending.clear();
  };
  const ready = new Promise<void>((resolve, reject) => {
    worker.on('message', (raw: unknown) => {
      const message = fromWorkerSchema.parse(raw);
      switch (message.type) {
        case 'ready':
          resolve();
          return;
        case 'start-failed':
          reject(new Error(`${name} worker did not start: ${message.message}`));
          return;
        case 'result': {
          const entry = pending.get(message.id);
          pending.delete(message.id);
          entry?.resolve(z.array(recordOutcomeSchema).parse(message.outcomes));
          return;
        }
        case 'failed': {
          const entry = pending.get(message.id);
          pending.delete(message.id);
          entry?.reject(new FunctionInvocationError(message.message));
          return;
        }
        case 'publish': {
          const target = publisher;
          const reply = (answer: unknown) => worker.postMessage(answer);
          if (!target) {
            reply({ type: 'publish-failed', id: message.id, message: 'no publisher in the main thread' });
            return;
          }
          // The predictions were built and checked by the worker's pipeline code: same process, same types.
          target.publish(message.predictions as Prediction[], message.csv).then(
            (result) => reply({ type: 'published', id: message.id, result }),
            (error: unknown) =>
              reply({
                type: 'publish-failed',
                id: message.id,
                message: error instanceof Error ? error.message : String(error),
              }),
          );
          return;
        }
      }
    });
    worker.on('error', (error) => {
      reject(error);
      failAll(error);
    });
    worker.on('exit', (code) => {
      const error = new Error(`${name} worker exited with ${code}`);
      reject(error);
      failAll(error);
    });
  });
  await ready;
  return {
    dead: () => failure !== undefined,
    invoke(event) {
      if (failure) return Promise.reject(failure);
      const id = nextId++;
      return new Promise<RecordOutcome[]>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ type: 'invoke', id, event });
      });
    },
    async close() {
      worker.removeAllListeners('exit');
      await worker.terminate();
    },
  };
}

/** Worker side: builds the container and the handler, then runs invocations as they come. */
async function runWorker(): Promise<void> {
  const port = parentPort;
  if (!port) return;
  const data = workerDataSchema.parse(workerData);
  const [{ createContainer }, { parseConfig }, { lambdaContext }] = await Promise.all([
    import('../pipeline/container.js'),
    import('../platform/config.js'),
    import('./api-gateway-adapter.js'),
  ]);
  const publishing = new Map<number, { resolve: (r: PublishResult) => void; reject: (e: Error) => void }>();
  let nextPublish = 0;
  const proxy: PredictionPublisher | undefined = data.proxyPublisher
    ? {
        ...(data.publisherReadsInputs === undefined ? {} : { readsInputs: data.publisherReadsInputs }),
        ...(data.publisherReadsCsvInputs === undefined
          ? {}
          : { readsCsvInputs: data.publisherReadsCsvInputs }),
        publish(predictions, csv) {
          const id = nextPublish++;
          return new Promise<PublishResult>((resolve, reject) => {
            publishing.set(id, { resolve, reject });
            port.postMessage(
              csv ? { type: 'publish', id, predictions, csv } : { type: 'publish', id, predictions },
            );
          });
        },
      }
    : undefined;
  const container = createContainer(parseConfig(data.settings), proxy ? { publisher: proxy } : {});
  const handler =
    data.ccfFunction === 'parse-capture'
      ? (await import('../handlers/parse-capture.js')).createParseCaptureHandler(container)
      : (await import('../handlers/score-flows.js')).createScoreFlowsHandler(container);
  port.on('message', (raw: unknown) => {
    const message = toWorkerSchema.parse(raw);
    if (message.type === 'invoke') {
      const event = S3Schema.safeParse(message.event);
      if (!event.success) {
        port.postMessage({
          type: 'failed',
          id: message.id,
          message: `not an S3 event: ${event.error.message}`,
        });
        return;
      }
      handler(event.data, lambdaContext(data.ccfFunction, 900_000)).then(
        (outcomes) => port.postMessage({ type: 'result', id: message.id, outcomes }),
        (error: unknown) =>
          port.postMessage({
            type: 'failed',
            id: message.id,
            message: error instanceof Error ? error.message : String(error),
          }),
      );
      return;
    }
    const waiter = publishing.get(message.id);
    publishing.delete(message.id);
    if (!waiter) return;
    if (message.type === 'published') waiter.resolve(message.result as PublishResult);
    else waiter.reject(new Error(message.message));
  });
  port.postMessage({ type: 'ready' });
}

if (!isMainThread && workerDataSchema.safeParse(workerData).success) {
  runWorker().catch((error: unknown) => {
    parentPort?.postMessage({
      type: 'start-failed',
      message: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
  });
}
