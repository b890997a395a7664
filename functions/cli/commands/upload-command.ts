/**
 * `ccf upload <capture> [--api <url>] [--api-key <key>]`: sends a capture to a running pipeline (local
 * `npm start` or a deployed stage) the way a browser would: asks POST /api/upload_pcap for a presigned POST,
 * streams the file into it with a progress bar, waits for SCORED (or FAILED) and prints the summary.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { z } from 'zod';
import { getClientConfig } from '../../platform/config.js';
import { DependencyError, NotFoundError, PcapFormatError, ValidationError } from '../../platform/errors.js';
import { createProgress } from '../progress.js';

const ticketSchema = z.object({
  capture_id: z.string(),
  upload: z.object({ url: z.string(), fields: z.record(z.string(), z.string()) }),
  expires_at: z.string(),
});

const captureSchema = z.object({
  capture_id: z.string(),
  status: z.enum(['PENDING', 'PARSED', 'SCORED', 'FAILED']),
  filename: z.string(),
  counts: z.object({
    packets: z.number().nullable(),
    flows: z.number().nullable(),
    predictions: z.number().nullable(),
  }),
  summary: z
    .object({ by_verdict: z.record(z.string(), z.number()), by_label: z.record(z.string(), z.number()) })
    .nullable(),
  timings_ms: z.object({ parse: z.number().nullable(), score: z.number().nullable() }),
  publish: z.object({ status: z.string(), message: z.string().optional() }).nullable(),
  errors: z.array(
    z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()) }),
  ),
  links: z.object({ flows: z.string().nullable(), packets: z.string().nullable() }),
});
export type UploadedCapture = z.infer<typeof captureSchema>;

const STATUS_POLL_MS = 200;
/**
 * Once PARSED only the last features part is left to score (a fraction of a second): polling faster then takes
 * the wait for SCORED from ~100 ms on average to ~25 ms, for a few more cheap requests.
 */
const PARSED_POLL_MS = 50;
/**
 * For at most this long after PARSED: on AWS the last part may take seconds to score, and 20 polls a second
 * would then spend the stage's API rate limit (20 requests/s in dev) on one client.
 */
const PARSED_FAST_POLL_MS = 1_000;

const apiErrorSchema = z.object({ error: z.string(), message: z.string() });

export interface UploadOptions {
  api: string;
  apiKey?: string;
  wait: boolean;
  timeoutS: number;
  /** Where progress lines go (stderr). */
  log: (line: string) => void;
}

async function api(options: UploadOptions, path: string, init: RequestInit = {}): Promise<unknown> {
  const url = new URL(path, options.api.endsWith('/') ? options.api : `${options.api}/`);
  let response: Response;
  try {
    response = await fetch(url, {
      ...init,
      headers: {
        'content-type': 'application/json',
        ...(options.apiKey ? { 'x-api-key': options.apiKey } : {}),
      },
    });
  } catch (error) {
    throw new DependencyError(
      `cannot reach the API at ${url.origin} (is \`npm start\` running?): ${
        error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error)
      }`,
      {
        dependency: 'api',
      },
      { cause: error },
    );
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  if (response.status === 404) {
    throw new NotFoundError(
      `${url.pathname}: ${apiErrorSchema.safeParse(body).data?.message ?? 'not found'}`,
    );
  }
  if (!response.ok) {
    const message = apiErrorSchema.safeParse(body).data?.message ?? text.slice(0, 200);
    throw new DependencyError(`${url.pathname} answered ${response.status}: ${message}`, {
      dependency: 'api',
    });
  }
  return body;
}

/** Streams a multipart/form-data body (policy fields, then the file) with an exact Content-Length. */
async function postFile(
  url: string,
  fields: Record<string, string>,
  path: string,
  sizeBytes: number,
  onBytes: (bytes: number) => void,
): Promise<void> {
  const boundary = `----ccf${Date.now().toString(16)}${Math.random().toString(16).slice(2)}`;
  let head = '';
  for (const [name, value] of Object.entries(fields)) {
    head += `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  }
  head += `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${basename(path).replaceAll('"', '')}"\r\nContent-Type: application/octet-stream\r\n\r\n`;
  const tail = `\r\n--${boundary}--\r\n`;
  const length = Buffer.byteLength(head) + sizeBytes + Buffer.byteLength(tail);
  async function* body(): AsyncGenerator<Buffer> {
    yield Buffer.from(head);
    for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
      onBytes(buffer.length);
      yield buffer;
    }
    yield Buffer.from(tail);
  }
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  await new Promise<void>((resolve, reject) => {
    const req = send(
      target,
      {
        method: 'POST',
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve();
          else {
            const text = Buffer.concat(chunks).toString('utf8');
            const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? `HTTP ${status}`;
            reject(new ValidationError(`the storage refused the upload: ${code}`, { field: 'file', status }));
          }
        });
      },
    );
    req.on('error', (error) =>
      reject(
        new DependencyError(
          `upload to ${target.origin} failed: ${error.message}`,
          { dependency: 's3' },
          { cause: error },
        ),
      ),
    );
    Readable.from(body()).pipe(req);
  });
}

function captureFailure(capture: UploadedCapture): Error {
  const first = capture.errors[0];
  if (first?.code === 'PCAP_FORMAT') {
    const offset = typeof first.details.byteOffset === 'number' ? first.details.byteOffset : 0;
    const block = typeof first.details.blockType === 'string' ? first.details.blockType : undefined;
    // The stored message already names the offset; rebuild the typed error for the exit status.
    return new PcapFormatError(first.message.replace(/ \(at byte offset .*\)$/, ''), offset, block);
  }
  return new ValidationError(
    `capture ${capture.capture_id} FAILED: ${first ? `${first.code}: ${first.message}` : 'no error recorded'}`,
    {
      field: 'capture',
    },
  );
}

export async function uploadCapture(
  path: string,
  options: UploadOptions,
): Promise<UploadedCapture | { capture_id: string }> {
  let sizeBytes: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new Error('not a regular file');
    sizeBytes = info.size;
  } catch (error) {
    throw new NotFoundError(
      `cannot read the capture '${path}': ${error instanceof Error ? error.message : String(error)}`,
      { path },
    );
  }
  const ticket = ticketSchema.parse(
    await api(options, 'api/upload_pcap', {
      method: 'POST',
      body: JSON.stringify({ filename: basename(path), size_bytes: sizeBytes }),
    }),
  );
  options.log(`capture ${ticket.capture_id}: uploading ${(sizeBytes / 1_048_576).toFixed(1)} MB`);
  const progress = createProgress({ totalBytes: sizeBytes });
  try {
    await postFile(ticket.upload.url, ticket.upload.fields, path, sizeBytes, (bytes) =>
      progress.advance(bytes),
    );
  } finally {
    progress.stop();
  }
  if (!options.wait) return { capture_id: ticket.capture_id };
  const deadline = Date.now() + options.timeoutS * 1000;
  let last = '';
  let unreachable = 0;
  let parsedAt: number | undefined;
  for (;;) {
    let body: unknown;
    try {
      body = await api(options, `api/captures/${ticket.capture_id}`);
      unreachable = 0;
    } catch (error) {
      // A busy server (a large capture being parsed next to it) may miss a poll: retry for a while.
      if (!(error instanceof DependencyError) || ++unreachable > 30 || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000));
      continue;
    }
    const capture = captureSchema.parse(body);
    if (capture.status !== last) {
      options.log(`capture ${ticket.capture_id}: ${capture.status}`);
      last = capture.status;
    }
    if (capture.status === 'SCORED') return capture;
    if (capture.status === 'FAILED') throw captureFailure(capture);
    if (Date.now() > deadline) {
      throw new DependencyError(
        `capture ${ticket.capture_id} is still ${capture.status} after ${options.timeoutS} s`,
        {
          dependency: 'api',
        },
      );
    }
    // One GetItem per poll is cheap; a long interval would add up to its length to every status change seen.
    if (capture.status === 'PARSED') parsedAt ??= Date.now();
    const fast = parsedAt !== undefined && Date.now() - parsedAt < PARSED_FAST_POLL_MS;
    await new Promise((resolve) => setTimeout(resolve, fast ? PARSED_POLL_MS : STATUS_POLL_MS));
  }
}

/** `withLinks: false` when the links die with the command (a `--local` stack stops at the end). */
export function formatSummary(capture: UploadedCapture, withLinks = true): string {
  const lines = [
    `capture     ${capture.capture_id} (${capture.filename})`,
    `status      ${capture.status}`,
    `packets     ${capture.counts.packets ?? '-'}`,
    `flows       ${capture.counts.flows ?? '-'}`,
    `predictions ${capture.counts.predictions ?? '-'}`,
  ];
  const verdicts = Object.entries(capture.summary?.by_verdict ?? {}).map(([verdict, n]) => `${verdict} ${n}`);
  if (verdicts.length > 0) lines.push(`verdicts    ${verdicts.join(', ')}`);
  const labels = Object.entries(capture.summary?.by_label ?? {})
    .sort((a, b) => b[1] - a[1])
    .map(([label, n]) => `${label} ${n}`);
  if (labels.length > 0) lines.push(`labels      ${labels.join(', ')}`);
  lines.push(
    `timings     parse ${capture.timings_ms.parse ?? '-'} ms, score ${capture.timings_ms.score ?? '-'} ms`,
  );
  if (capture.publish)
    lines.push(
      `publishing  ${capture.publish.status}${capture.publish.message ? ` (${capture.publish.message})` : ''}`,
    );
  if (withLinks && capture.links.flows) lines.push(`flows.csv   ${capture.links.flows}`);
  return `${lines.join('\n')}\n`;
}

/** Saves the capture's CSVs through their presigned links (they expire, and `--local` stops the server). */
async function downloadResults(capture: UploadedCapture, directory: string): Promise<string[]> {
  await mkdir(directory, { recursive: true });
  const written: string[] = [];
  const files: [string | null, string][] = [
    [capture.links.flows, 'flows.csv'],
    [capture.links.packets, 'packets.csv.gz'],
  ];
  for (const [link, name] of files) {
    if (!link) continue;
    const response = await fetch(link);
    if (!response.ok || !response.body) {
      throw new DependencyError(`downloading ${name} failed: HTTP ${response.status}`, { dependency: 's3' });
    }
    let path = join(directory, name);
    await pipeline(Readable.fromWeb(response.body), createWriteStream(path));
    // The packets object carries Content-Encoding: gzip, which some HTTP stacks decode on the way: name the
    // file after what actually arrived.
    if (name.endsWith('.gz') && !(await startsWithGzipMagic(path))) {
      const plain = path.slice(0, -'.gz'.length);
      await rename(path, plain);
      path = plain;
    }
    written.push(path);
  }
  return written;
}

async function startsWithGzipMagic(path: string): Promise<boolean> {
  const file = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await file.read(Buffer.alloc(2), 0, 2, 0);
    return bytesRead === 2 && buffer[0] === 0x1f && buffer[1] === 0x8b;
  } finally {
    await file.close();
  }
}

/** True when something answers HTTP at the API's address (any status: a running `npm start` or stage). */
async function apiAnswers(api: string): Promise<boolean> {
  try {
    await fetch(new URL('api/history?limit=1', api.endsWith('/') ? api : `${api}/`), {
      signal: AbortSignal.timeout(2000),
    });
    return true;
  } catch {
    return false;
  }
}

/**
 * `--local` with nothing running: the same stack as `npm start`, in this process, for one upload. Loaded
 * lazily so the other commands never pay for the AWS SDK and the embedded servers.
 */
async function startEmbeddedStack(log: (line: string) => void) {
  // Powertools reads these when the handlers load, as in `npm start`.
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
  const { startLocalStack } = await import('../../local/local-stack.js');
  const stack = await startLocalStack({ log });
  log(`local runtime on ${stack.runtime.apiUrl} (data in ${stack.dataDir}/; ${stack.streamingDescription})`);
  return stack;
}

export function registerUploadCommand(program: Command): void {
  program
    .command('upload')
    .description(
      'upload a capture to the pipeline (presigned POST), wait until it is scored, print the summary',
    )
    .argument('<capture>', 'pcap or pcapng file (optionally gzip-compressed)')
    .option('--api <url>', 'API base URL (default: CCF_API_URL or http://localhost:3000)')
    .option('--api-key <key>', 'API key for a deployed stage (default: CCF_API_KEY)')
    .option('--no-wait', 'return after the upload without waiting for SCORED')
    .option('--timeout <seconds>', 'how long to wait for SCORED', '1800')
    .option('-o, --output <dir>', "also download the scored capture's flows.csv and packets.csv into <dir>")
    .option(
      '--local',
      'if no API answers at --api, start the local runtime (as `npm start` does) for this upload, then stop it',
    )
    .action(
      async (
        capture: string,
        flags: {
          api?: string;
          apiKey?: string;
          wait: boolean;
          timeout: string;
          local?: boolean;
          output?: string;
        },
      ) => {
        const client = getClientConfig();
        const timeoutS = Number(flags.timeout);
        if (!Number.isFinite(timeoutS) || timeoutS <= 0) {
          throw new ValidationError(`--timeout must be a positive number of seconds (got ${flags.timeout})`, {
            field: 'timeout',
          });
        }
        const apiKey = flags.apiKey ?? client.CCF_API_KEY;
        const log = (line: string) => process.stderr.write(`${line}\n`);
        let api = flags.api ?? client.CCF_API_URL;
        const localStack =
          flags.local && !(await apiAnswers(api)) ? await startEmbeddedStack(log) : undefined;
        if (localStack) api = localStack.runtime.apiUrl;
        try {
          const result = await uploadCapture(capture, {
            api,
            ...(apiKey ? { apiKey } : {}),
            wait: flags.wait || localStack !== undefined || flags.output !== undefined,
            timeoutS,
            log,
          });
          process.stdout.write(
            'status' in result
              ? formatSummary(result, localStack === undefined)
              : `capture ${result.capture_id} uploaded\n`,
          );
          if ('status' in result && flags.output !== undefined) {
            for (const path of await downloadResults(result, flags.output))
              process.stdout.write(`wrote       ${path}\n`);
          }
        } finally {
          await localStack?.close();
        }
      },
    );
}
