import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { LocalRuntime, LocalRuntimeOptions } from '../../../functions/local/runtime.js';
import { buildPcap, ethernetUdpFrame } from '../../support/capture-files.js';

export const repoDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const sharedDir = process.env.CCF_SHARED_DIR ?? resolve(repoDir, '..', 'shared');

/** Quiet Powertools before any handler module is loaded (as the Lambda service sets its env). */
export async function startRuntime(settings: LocalRuntimeOptions['settings'] = {}) {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  const { startLocalRuntime } = await import('../../../functions/local/runtime.js');
  const dataDir = await mkdtemp(join(tmpdir(), 'ccf-pipeline-'));
  const invocations: { name: string; key: string; outcome: string; detail: string }[] = [];
  const runtime: LocalRuntime = await startLocalRuntime({
    port: 0,
    s3Port: 0,
    dynamoPort: 0,
    dataDir,
    // Nothing here restarts a runtime on the same data: keep the table in memory (no LevelDB files).
    dynamoInMemory: true,
    settings: { MODELS_DIR: join(repoDir, 'models'), ...settings },
    onInvocation: (name, key, outcome, detail) => invocations.push({ name, key, outcome, detail }),
  });
  return {
    runtime,
    invocations,
    async stop() {
      await runtime.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A real capture: one from ../shared/corpora when present, else one built here (many UDP packets, 1 flow). */
export function realCapture(): { name: string; bytes: Uint8Array } {
  const corpus = join(
    sharedDir,
    'corpora/StopDDoS-packet-captures/amp.TCP.syn.optionallyACK.optionallysamePort.pcapng',
  );
  if (existsSync(corpus)) return { name: 'amp.TCP.syn.pcapng', bytes: readFileSync(corpus) };
  return { name: 'built.pcap', bytes: builtCapture(200) };
}

export function builtCapture(packets: number, seed = 0): Uint8Array {
  return buildPcap({
    packets: Array.from({ length: packets }, (_, i) => ({
      tsUs: 1_700_000_000_000_000 + i * 1000,
      data: ethernetUdpFrame(60 + (i % 40), i + seed),
    })),
  });
}

/** A capture damaged part-way: the last record header claims more bytes than the file holds. */
export function damagedCapture(): { name: string; bytes: Uint8Array } {
  const whole = builtCapture(50, 7);
  return { name: 'damaged.pcap', bytes: whole.subarray(0, whole.length - 30) };
}

export const ticketSchema = z.object({
  status: z.literal('success'),
  message: z.string(),
  capture_id: z.string(),
  upload: z.object({ url: z.string(), fields: z.record(z.string(), z.string()) }).nullable(),
  expires_at: z.string().nullable(),
});

export const captureViewSchema = z.object({
  capture_id: z.string(),
  status: z.enum(['PENDING', 'PARSED', 'SCORED', 'FAILED']),
  counts: z.object({
    packets: z.number().nullable(),
    flows: z.number().nullable(),
    predictions: z.number().nullable(),
  }),
  summary: z
    .object({
      by_verdict: z.record(z.string(), z.number()),
      by_label: z.record(z.string(), z.number()),
      model_versions: z.array(z.string()),
    })
    .nullable(),
  errors: z.array(
    z.object({
      stage: z.string(),
      code: z.string(),
      name: z.string(),
      message: z.string(),
      details: z.record(z.string(), z.unknown()),
    }),
  ),
  links: z.object({
    upload: z.string().nullable(),
    packets: z.string().nullable(),
    flows: z.string().nullable(),
    features: z.string().nullable(),
  }),
  publish: z.object({ status: z.string() }).passthrough().nullable(),
});
export type CaptureView = z.infer<typeof captureViewSchema>;

export const historyItemSchema = z
  .object({
    id: z.string(),
    input: z.record(z.string(), z.unknown()),
    result: z.number(),
    timestamp: z.string(),
    verdict: z.enum(['benign', 'malicious']),
    capture_id: z.string(),
  })
  .passthrough();

export async function requestJson(url: string, init: RequestInit = {}) {
  const response = await fetch(url, init);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (S3 XML errors)
  }
  return { status: response.status, headers: response.headers, body, text };
}

export function postJson(url: string, body: unknown) {
  return requestJson(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Asks for a presigned POST and uploads the file with it, as a browser or `ccf upload` does. */
export async function uploadWithPresignedPost(apiUrl: string, name: string, bytes: Uint8Array) {
  const asked = await postJson(`${apiUrl}/api/upload_pcap`, { filename: name, size_bytes: bytes.length });
  if (asked.status !== 201) throw new Error(`upload_pcap answered ${asked.status}: ${asked.text}`);
  const ticket = ticketSchema.parse(asked.body);
  if (!ticket.upload) throw new Error('no presigned POST');
  const form = new FormData();
  for (const [field, value] of Object.entries(ticket.upload.fields)) form.append(field, value);
  form.append('file', new Blob([bytes]), name);
  const uploaded = await fetch(ticket.upload.url, { method: 'POST', body: form });
  return { ticket, uploadStatus: uploaded.status, uploadText: await uploaded.text() };
}

export async function captureView(apiUrl: string, captureId: string): Promise<CaptureView> {
  const response = await requestJson(`${apiUrl}/api/captures/${captureId}`);
  if (response.status !== 200) throw new Error(`capture status ${response.status}: ${response.text}`);
  return captureViewSchema.parse(response.body);
}

export async function waitForCapture(
  apiUrl: string,
  captureId: string,
  statuses: readonly CaptureView['status'][] = ['SCORED', 'FAILED'],
  timeoutMs = 60_000,
): Promise<CaptureView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = await captureView(apiUrl, captureId);
    if (statuses.includes(view.status)) return view;
    if (Date.now() > deadline)
      throw new Error(`capture ${captureId} still ${view.status} after ${timeoutMs} ms`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

/** Every history item of a capture, following the cursor. */
export async function allHistory(apiUrl: string, query: Record<string, string>) {
  const items: z.infer<typeof historyItemSchema>[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const params = new URLSearchParams({ ...query, ...(cursor ? { cursor } : {}) });
    const response = await requestJson(`${apiUrl}/api/history?${params.toString()}`);
    if (response.status !== 200) throw new Error(`history ${response.status}: ${response.text}`);
    items.push(...z.array(historyItemSchema).parse(response.body));
    cursor = response.headers.get('x-next-cursor');
    pages++;
  } while (cursor && pages < 10_000);
  return { items, pages };
}

/** Data rows of a CSV text (RFC 4180 quoting aware enough for counting lines: quoted fields hold no newlines here). */
export function csvDataRows(text: string): string[] {
  return text.split('\n').filter((line, i) => i > 0 && line !== '');
}
