import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { createServer as createNetServer } from 'node:net';
import { resolve } from 'node:path';
import { S3Schema } from '@aws-lambda-powertools/parser/schemas/s3';
import { createCaptureStatusHandler } from '../handlers/capture-status.js';
import { createHistoryHandler } from '../handlers/history.js';
import { createParseCaptureHandler } from '../handlers/parse-capture.js';
import { createPredictHandler } from '../handlers/predict.js';
import { createRepublishCaptureHandler } from '../handlers/republish-capture.js';
import { createRepublishSweepHandler } from '../handlers/republish-sweep.js';
import type { S3Event } from '../handlers/s3-records.js';
import { createScoreFlowsHandler } from '../handlers/score-flows.js';
import { createSearchFlowsHandler, searchFor } from '../handlers/search-flows.js';
import { createUploadPcapHandler } from '../handlers/upload-pcap.js';
import { FEATURES_PREFIX, UPLOAD_PREFIX } from '../pipeline/capture-keys.js';
import { type Container, type ContainerOverrides, createContainer } from '../pipeline/container.js';
import { createDocumentClient } from '../platform/aws-clients.js';
import { type EnvironmentSource, type PlatformConfig, parseConfig } from '../platform/config.js';
import { ensureTable } from '../platform/dynamodb-table.js';
import {
  API_GATEWAY_MAX_BODY_BYTES,
  findRoute,
  lambdaContext,
  parseRequestTarget,
  type Route,
  readBody,
  toProxyEvent,
  writeProxyResult,
} from './api-gateway-adapter.js';
import { stopChild } from './child-server.js';
import { type FunctionWorker, startFunctionWorker } from './function-worker.js';
import { handlePostUpload } from './post-policy-gateway.js';
import { startS3rver } from './s3rver-process.js';

/**
 * The whole pipeline in one process, on real sockets: s3rver (S3 API; its in-process `event` stands in
 * for the bucket notifications, which it cannot be configured with), dynalite (DynamoDB API), and an HTTP
 * server that turns requests into API Gateway proxy events for the same handlers the Lambdas run.
 * The POST upload gateway at /s3-post enforces the presigned POST policy that s3rver ignores.
 */
export const LOCAL_ACCESS_KEY = 'S3RVER';
export const LOCAL_BUCKET = 'ccf-captures';
export const LOCAL_TABLE = 'ccf-catcher';
const POST_GATEWAY_PATH = '/s3-post';
/** Lambda retries a failed asynchronous invocation twice. */
const ASYNC_RETRY_DELAYS_MS = [1000, 2000];
const CLOSE_GRACE_MS = 15_000;

export interface LocalRuntimeOptions {
  host?: string;
  /** 0 = any free port. */
  port?: number;
  s3Port?: number;
  dynamoPort?: number;
  /** Where s3rver and dynalite keep their data. */
  dataDir: string;
  /**
   * Keep dynalite's table in memory instead of LevelDB under `dataDir` (nothing survives a restart).
   * For tests and benchmarks that do not need persistence; `npm start` keeps the persistent default.
   */
  dynamoInMemory?: boolean;
  /** Extra settings (as environment variables) on top of the local defaults. */
  settings?: EnvironmentSource;
  /**
   * Injected adapters. A publisher is used by every function (the S3-triggered ones reach it from their
   * worker threads); a scorer cannot cross to a worker, so with one the S3-triggered functions run in the
   * main thread.
   */
  overrides?: ContainerOverrides;
  /** Called for every S3-triggered invocation (for logs and tests). */
  onInvocation?: (name: string, key: string, outcome: 'ok' | 'error', detail: string) => void;
}

export interface LocalRuntime {
  apiUrl: string;
  s3Endpoint: string;
  dynamoEndpoint: string;
  config: PlatformConfig;
  container: Container;
  /** Invokes an S3-triggered function with an event, as S3 would (used by tests for redelivery). */
  deliverS3Event(event: S3Event): Promise<void>;
  /** Resolves when no S3-triggered work is in flight. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolvePort(typeof address === 'object' && address ? address.port : port);
    });
  });
}

async function freePort(host: string): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((done, fail) => {
    probe.once('error', fail);
    probe.listen(0, host, () => done());
  });
  const address = probe.address();
  await new Promise<void>((done) => probe.close(() => done()));
  if (typeof address !== 'object' || !address) throw new Error('no free port');
  return address.port;
}

/**
 * dynalite in its own process: it is CPU-heavy (LevelDB, validation, index upkeep), and sharing the
 * handlers' event loop would slow scoring down.
 */
async function startDynalite(host: string, requestedPort: number, path: string | undefined) {
  const port = requestedPort === 0 ? await freePort(host) : requestedPort;
  const cli = createRequire(import.meta.url).resolve('dynalite/cli.js');
  const child: ChildProcess = spawn(
    process.execPath,
    [
      // Exit when the runtime closes the IPC channel below: on stop(), and when it dies without stopping us
      // (crash, SIGKILL); without this an orphaned dynalite kept its port and LevelDB lock. The terminal's
      // Ctrl-C (SIGINT to the whole process group) and a SIGTERM to the group are left to the runtime, which
      // finishes its in-flight work against this store before it closes it.
      '--import',
      'data:text/javascript,process.on("disconnect",()=>process.exit(0));process.on("SIGINT",()=>{});process.on("SIGTERM",()=>{})',
      cli,
      '--host',
      host,
      '--port',
      String(port),
      ...(path === undefined ? [] : ['--path', path]),
      '--createTableMs',
      '0',
      '--deleteTableMs',
      '0',
      '--updateTableMs',
      '0',
    ],
    { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] },
  );
  await new Promise<void>((ready, fail) => {
    const onExit = (code: number | null) =>
      fail(new Error(`dynalite exited with ${code} before listening on ${port}`));
    child.once('exit', onExit);
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString('utf8').includes('listening')) {
        child.off('exit', onExit);
        ready();
      }
    });
  });
  return {
    port,
    async stop() {
      await stopChild(child, () => child.disconnect());
    },
  };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((done) => {
    server.close(() => done());
    server.closeAllConnections();
  });
}

export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const host = options.host ?? '127.0.0.1';
  const dataDir = resolve(options.dataDir);
  await mkdir(resolve(dataDir, 's3'), { recursive: true });
  await mkdir(resolve(dataDir, 'dynamodb'), { recursive: true });

  const s3rver = await startS3rver({
    address: host,
    port: options.s3Port ?? 0,
    silent: true,
    directory: resolve(dataDir, 's3'),
    vhostBuckets: false,
    configureBuckets: [{ name: options.settings?.CAPTURE_BUCKET ?? LOCAL_BUCKET }],
  });
  const s3Address = { port: s3rver.port };
  const dynamo = await startDynalite(
    host,
    options.dynamoPort ?? 0,
    options.dynamoInMemory ? undefined : resolve(dataDir, 'dynamodb'),
  );
  const dynamoPort = dynamo.port;

  let routes: Route[] = [];
  let postUpload:
    | ((
        req: Parameters<typeof handlePostUpload>[0],
        res: Parameters<typeof handlePostUpload>[1],
      ) => Promise<void>)
    | undefined;
  const api = createServer((request, response) => {
    const url = parseRequestTarget(request.url, request.headers.host ?? host);
    void (async () => {
      if (request.method === 'POST' && url.pathname.startsWith(`${POST_GATEWAY_PATH}/`) && postUpload) {
        await postUpload(request, response);
        return;
      }
      if (routes.length === 0) {
        request.resume();
        response.writeHead(503, { 'Content-Type': 'application/json', 'Retry-After': '1' });
        response.end(
          JSON.stringify({ error: 'STARTING', message: 'The local runtime is still starting', details: {} }),
        );
        return;
      }
      const found = findRoute(routes, url.pathname);
      const allowed = found && (request.method === found.route.method || request.method === 'OPTIONS');
      if (!found || !allowed) {
        request.resume();
        response.writeHead(found ? 405 : 404, { 'Content-Type': 'application/json' });
        response.end(
          JSON.stringify({
            error: found ? 'METHOD_NOT_ALLOWED' : 'NOT_FOUND',
            message: `No route for ${request.method} ${url.pathname}`,
            details: {},
          }),
        );
        return;
      }
      const body = await readBody(request, API_GATEWAY_MAX_BODY_BYTES);
      if (body === 'too_large') {
        // API Gateway's own answer for bodies over its payload limit.
        response.writeHead(413, { 'Content-Type': 'application/json' });
        response.end(JSON.stringify({ message: 'Request Too Long' }));
        return;
      }
      const event = toProxyEvent(request, url, found.route, found.parameters, body);
      const result = await found.route.handler(event, lambdaContext(found.route.resource));
      writeProxyResult(response, result);
    })().catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(502, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify({ message: 'Internal server error', details: { cause: String(error) } }));
    });
  });
  api.keepAliveTimeout = 5000;
  const apiPort = await listen(api, options.port ?? 3000, host);

  const s3Endpoint = `http://${host}:${s3Address.port}`;
  const apiUrl = `http://${host}:${apiPort}`;
  const configInput: EnvironmentSource = {
    AWS_REGION: 'us-east-1',
    CAPTURE_BUCKET: LOCAL_BUCKET,
    TABLE_NAME: LOCAL_TABLE,
    S3_ENDPOINT: s3Endpoint,
    S3_UPLOAD_ENDPOINT: `${apiUrl}${POST_GATEWAY_PATH}`,
    DYNAMODB_ENDPOINT: `http://${host}:${dynamoPort}`,
    LOCAL_ACCESS_KEY_ID: LOCAL_ACCESS_KEY,
    LOCAL_SECRET_ACCESS_KEY: LOCAL_ACCESS_KEY,
    PARSED_WAIT_S: '10',
    ...options.settings,
  };
  const config = parseConfig(configInput);
  const container = createContainer(config, options.overrides);
  const dynamoClient = createDocumentClient(config);
  await ensureTable(dynamoClient, config.TABLE_NAME);

  postUpload = (request, response) =>
    handlePostUpload(request, response, {
      bucket: config.CAPTURE_BUCKET,
      region: config.AWS_REGION,
      accessKeyId: LOCAL_ACCESS_KEY,
      secretAccessKey: LOCAL_ACCESS_KEY,
      store: container.store,
      maxBodyBytes: config.MAX_UPLOAD_BYTES + 1024 * 1024,
    });
  routes = [
    { method: 'POST', resource: '/api/upload_pcap', handler: createUploadPcapHandler(container) },
    { method: 'POST', resource: '/api/predict', handler: createPredictHandler(container) },
    { method: 'GET', resource: '/api/history', handler: createHistoryHandler(container) },
    { method: 'GET', resource: '/api/captures/{id}', handler: createCaptureStatusHandler(container) },
    // Issue 6: the publish retry path (republishes what Kafka did not acknowledge).
    {
      method: 'POST',
      resource: '/api/captures/{id}/publish',
      handler: createRepublishCaptureHandler(container),
    },
    // Issue 6: search answered from OpenSearch (503-style "not configured" answer without OPENSEARCH_URL).
    {
      method: 'GET',
      resource: '/api/flows',
      handler: createSearchFlowsHandler(searchFor(container), config.CORS_ORIGINS),
    },
  ];

  // Each S3-triggered function in its own worker thread (as Lambda gives each function its own sandbox), so
  // parsing, scoring the parts already written and the HTTP API run on separate cores.
  let workers: Record<'parse-capture' | 'score-flows', FunctionWorker> | undefined;
  if (!options.overrides?.scorer) {
    const [parseWorker, scoreWorker] = await Promise.all([
      startFunctionWorker('parse-capture', configInput, options.overrides?.publisher),
      startFunctionWorker('score-flows', configInput, options.overrides?.publisher),
    ]);
    workers = { 'parse-capture': parseWorker, 'score-flows': scoreWorker };
  }
  const parse = createParseCaptureHandler(container);
  const score = createScoreFlowsHandler(container);
  const inFlight = new Set<Promise<void>>();

  const invoke = async (event: S3Event) => {
    const key = event.Records[0]?.s3.object.key ?? '';
    const name = key.startsWith(UPLOAD_PREFIX)
      ? 'parse-capture'
      : key.startsWith(FEATURES_PREFIX)
        ? 'score-flows'
        : undefined;
    if (!name) return;
    const worker = workers?.[name];
    const handler = worker
      ? (e: S3Event) => worker.invoke(e)
      : (e: S3Event) => (name === 'parse-capture' ? parse : score)(e, lambdaContext(name, 900_000));
    for (let attempt = 0; ; attempt++) {
      try {
        const outcomes = await handler(event);
        options.onInvocation?.(name, key, 'ok', JSON.stringify(outcomes));
        return;
      } catch (error) {
        const detail = error instanceof Error ? error.message : String(error);
        const delay = ASYNC_RETRY_DELAYS_MS[attempt];
        options.onInvocation?.(name, key, 'error', detail);
        if (delay === undefined) return;
        await new Promise((done) => setTimeout(done, delay));
      }
    }
  };
  const deliverS3Event = (event: S3Event): Promise<void> => {
    const work = invoke(event).finally(() => inFlight.delete(work));
    inFlight.add(work);
    return work;
  };
  s3rver.onEvent((event) => {
    const parsed = S3Schema.safeParse(event);
    if (parsed.success) void deliverS3Event(parsed.data);
    else options.onInvocation?.('s3-event', '', 'error', `not an S3 event: ${parsed.error.message}`);
  });

  // The scheduled republish sweep (EventBridge on AWS): one at a time, never past close(). Without a broker
  // nothing is ever listed (captures record `not_configured`, API predictions are not recorded), so there is no
  // timer either.
  const sweep = createRepublishSweepHandler(container);
  let sweeping: Promise<void> | undefined;
  const publishes = config.KAFKA_BROKERS !== undefined || options.overrides?.publisher !== undefined;
  const sweepTimer =
    publishes && config.REPUBLISH_SWEEP_S > 0
      ? setInterval(() => {
          if (sweeping) return;
          sweeping = sweep()
            .then(
              (result) => {
                for (const outcome of result.captures) {
                  const detail = outcome.outcome === 'republished' ? outcome.publish.status : outcome.outcome;
                  options.onInvocation?.('republish-sweep', outcome.captureId, 'ok', detail);
                }
                for (const outcome of result.apiPages) {
                  const detail =
                    outcome.outcome === 'republished'
                      ? `published ${outcome.published}, failed ${outcome.failed}`
                      : outcome.message;
                  options.onInvocation?.(
                    'republish-sweep',
                    `api:${outcome.pageId}`,
                    outcome.outcome === 'error' ? 'error' : 'ok',
                    detail,
                  );
                }
              },
              (error: unknown) =>
                options.onInvocation?.(
                  'republish-sweep',
                  '',
                  'error',
                  error instanceof Error ? error.message : String(error),
                ),
            )
            .finally(() => {
              sweeping = undefined;
            });
        }, config.REPUBLISH_SWEEP_S * 1000).unref()
      : undefined;

  let closed = false;
  return {
    apiUrl,
    s3Endpoint,
    dynamoEndpoint: `http://${host}:${dynamoPort}`,
    config,
    container,
    deliverS3Event,
    async settled() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
    async close() {
      if (closed) return;
      closed = true;
      if (sweepTimer) clearInterval(sweepTimer);
      await closeServer(api);
      await sweeping;
      // Let in-flight S3-triggered work finish (bounded: a stuck invocation must not block Ctrl-C forever).
      await Promise.race([
        Promise.allSettled([...inFlight]),
        new Promise((done) => setTimeout(done, CLOSE_GRACE_MS).unref()),
      ]);
      if (workers) await Promise.all(Object.values(workers).map((worker) => worker.close()));
      await s3rver.close();
      await dynamo.stop();
      dynamoClient.destroy();
    },
  };
}
