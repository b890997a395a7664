import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { runAnalyze } from '../../../functions/cli/commands/analyze-command.js';
import { featurePartKey } from '../../../functions/pipeline/capture-keys.js';
import { createDocumentClient } from '../../../functions/platform/aws-clients.js';
import {
  DynamoCaptureRepository,
  DynamoPredictionRepository,
} from '../../../functions/platform/dynamodb-repositories.js';
import type { PredictionDraft } from '../../../functions/platform/ports.js';
import { PREDICTION_SCHEMA_VERSION, type Prediction } from '../../../functions/records/prediction.js';
import {
  allHistory,
  builtCapture,
  captureView,
  csvDataRows,
  damagedCapture,
  historyItemSchema,
  postJson,
  realCapture,
  requestJson,
  startRuntime,
  uploadWithPresignedPost,
  waitForCapture,
} from './pipeline-harness.js';

const MAX_UPLOAD_BYTES = 4 * 1024 * 1024;
const INLINE_MAX_BYTES = 256 * 1024;

let harness: Awaited<ReturnType<typeof startRuntime>>;
let api: string;
/** The capture uploaded in the first test, reused by later ones. */
let scored: { id: string; flows: number; predictions: number } | undefined;

beforeAll(async () => {
  harness = await startRuntime({
    MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES),
    INLINE_UPLOAD_MAX_BYTES: String(INLINE_MAX_BYTES),
    SCORE_BATCH_SIZE: '64',
    // Small features parts: a real capture is scored in several parts, some while it is still being parsed.
    FEATURE_PART_FLOWS: '256',
  });
  api = harness.runtime.apiUrl;
});

afterAll(async () => {
  await harness?.stop();
});

function draft(
  input: Record<string, string | number>,
  scoredAt = new Date().toISOString(),
  verdict: 'benign' | 'malicious' = 'benign',
): PredictionDraft {
  return {
    schema_version: PREDICTION_SCHEMA_VERSION,
    capture_id: 'api',
    kind: 'packet',
    scored_at: scoredAt,
    label: verdict === 'malicious' ? 'dos' : 'BENIGN',
    probability: verdict === 'malicious' ? 0.9 : 0.1,
    anomaly_score: 0.1,
    verdict,
    decided_by: 'test',
    model_version: 'test',
    input,
  };
}

describe('capture pipeline over real sockets (s3rver, dynalite, API Gateway events)', () => {
  it('scores a real capture uploaded through the presigned POST; history, summary and flows CSV agree', async () => {
    const capture = realCapture();
    const { ticket, uploadStatus, uploadText } = await uploadWithPresignedPost(
      api,
      capture.name,
      capture.bytes,
    );
    expect(uploadStatus, uploadText).toBe(204);
    expect(ticket.upload?.fields.key).toBe(`uploads/${ticket.capture_id}/${capture.name}`);
    expect(Date.parse(ticket.expires_at ?? '')).toBeGreaterThan(Date.now());

    const view = await waitForCapture(api, ticket.capture_id);
    expect(view.status, JSON.stringify(view.errors)).toBe('SCORED');
    expect(view.counts.packets).toBeGreaterThan(0);
    const flows = view.counts.flows ?? -1;
    expect(flows).toBeGreaterThan(0);
    expect(view.counts.predictions).toBe(flows);
    const byVerdict = Object.values(view.summary?.by_verdict ?? {}).reduce((a, b) => a + b, 0);
    const byLabel = Object.values(view.summary?.by_label ?? {}).reduce((a, b) => a + b, 0);
    expect(byVerdict).toBe(flows);
    expect(byLabel).toBe(flows);
    expect(view.publish?.status).toBe('not_configured');

    // flows/{id}.csv through its presigned GET link
    const flowsCsv = await fetch(view.links.flows ?? '');
    expect(flowsCsv.status).toBe(200);
    const rows = csvDataRows(await flowsCsv.text());
    expect(rows.length).toBe(flows);

    // packets/{id}.csv.gz has one row per packet
    const packetsGz = await fetch(view.links.packets ?? '');
    // stored gzip-encoded (Content-Encoding: gzip), so fetch may already have decoded it
    const packetBytes = Buffer.from(await packetsGz.arrayBuffer());
    const packetText = (
      packetBytes[0] === 0x1f && packetBytes[1] === 0x8b ? gunzipSync(packetBytes) : packetBytes
    ).toString('utf8');
    const packetRows = csvDataRows(packetText);
    expect(packetRows.length).toBe(view.counts.packets);

    // history, paged with a small limit, lists exactly the capture's predictions
    const { items, pages } = await allHistory(api, { capture_id: ticket.capture_id, limit: '50' });
    expect(items.length).toBe(flows);
    expect(pages).toBeGreaterThan(1);
    expect(new Set(items.map((item) => item.id)).size).toBe(flows);
    expect(items.every((item) => item.capture_id === ticket.capture_id)).toBe(true);
    const maliciousInHistory = items.filter((item) => item.verdict === 'malicious').length;
    expect(maliciousInHistory).toBe(view.summary?.by_verdict.malicious ?? 0);
    // ... and the inputs are the flows of the CSV (same Flow IDs, same order of ids)
    const csvFlowIds = rows.map((row) => row.split(',')[0]).sort();
    const historyFlowIds = items.map((item) => String(item.input['Flow ID'])).sort();
    expect(historyFlowIds).toEqual(csvFlowIds);

    // the verdict filter agrees with the summary
    const malicious = await allHistory(api, {
      capture_id: ticket.capture_id,
      verdict: 'malicious',
      limit: '100',
    });
    expect(malicious.items.length).toBe(view.summary?.by_verdict.malicious ?? 0);

    // unfiltered history (time index) finds them too, newest first
    const recent = await allHistory(api, { limit: '200' });
    const ours = recent.items.filter((item) => item.capture_id === ticket.capture_id);
    expect(ours.length).toBe(flows);
    const times = recent.items.map((item) => item.timestamp);
    expect([...times].sort().reverse()).toEqual(times);

    // ... and the verdicts are those `ccf analyze` gives the same file (same models, same flow context)
    const dir = mkdtempSync(join(tmpdir(), 'ccf-pipeline-'));
    try {
      const file = join(dir, capture.name);
      writeFileSync(file, capture.bytes);
      const analyzed = await runAnalyze(file, { output: join(dir, 'out'), top: 0 });
      expect(analyzed.flows).toBe(flows);
      expect(view.summary?.by_verdict.malicious ?? 0).toBe(analyzed.byVerdict.malicious ?? 0);
      expect(view.summary?.by_label).toEqual(analyzed.byLabel);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    scored = { id: ticket.capture_id, flows, predictions: view.counts.predictions ?? -1 };
  });

  it('keeps the seed examples working verbatim: POST /api/predict and GET /api/history', async () => {
    const predicted = await postJson(`${api}/api/predict`, '{"len":60,"source_port":80,"dest_port":443}');
    expect(predicted.status).toBe(200);
    const body = z
      .object({ status: z.literal('success'), prediction: z.number().min(0).max(1) })
      .strict()
      .parse(predicted.body);
    expect(body.status).toBe('success');

    const history = await requestJson(`${api}/api/history`);
    expect(history.status).toBe(200);
    const items = z.array(historyItemSchema).parse(history.body);
    const newest = items[0];
    expect(newest).toBeDefined();
    expect(Object.keys(newest ?? {})).toEqual(expect.arrayContaining(['id', 'input', 'result', 'timestamp']));
    expect(newest?.input).toEqual({ len: 60, source_port: 80, dest_port: 443 });
    expect(newest?.result).toBe(body.prediction);
    expect(newest?.capture_id).toBe('api');
  });

  it('stores every concurrent POST /api/predict (coalesced writes) before answering: each is in history', async () => {
    const count = 60;
    const answers = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        postJson(`${api}/api/predict`, JSON.stringify({ len: 1000 + i, source_port: 80, dest_port: 443 })),
      ),
    );
    for (const answer of answers) expect(answer.status).toBe(200);
    // Read right after the last answer: every write was durable before its response was sent.
    const history = await requestJson(`${api}/api/history?capture_id=api&limit=1000`);
    const lens = z
      .array(historyItemSchema)
      .parse(history.body)
      .map((item) => z.object({ len: z.number() }).passthrough().parse(item.input).len)
      .filter((len) => len >= 1000 && len < 1000 + count)
      .sort((x, y) => x - y);
    expect(lens).toEqual(Array.from({ length: count }, (_, i) => 1000 + i));
  });

  it('POST /api/predict with an Idempotency-Key answers a repeat with the first answer and stores one prediction (Powertools Idempotency on dynalite)', async () => {
    const key = randomUUID();
    const send = (body: unknown) =>
      requestJson(`${api}/api/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'Idempotency-Key': key },
        body: JSON.stringify(body),
      });
    const len = 5000 + Math.floor(Math.random() * 50_000);
    const packet = { len, source_port: 1234, dest_port: 4321 };
    const stored = async () =>
      z
        .array(historyItemSchema)
        .parse((await requestJson(`${api}/api/history?capture_id=api&limit=1000`)).body)
        .filter((item) => item.input.len === len && item.input.source_port === 1234);
    const first = await send(packet);
    expect(first.status, first.text).toBe(200);
    const again = await Promise.all([send(packet), send(packet)]);
    for (const answer of again) {
      // a concurrent repeat may still find the first in progress (409); a later one gets its answer
      expect([200, 409]).toContain(answer.status);
      if (answer.status === 200) expect(answer.body).toEqual(first.body);
    }
    expect((await send(packet)).body).toEqual(first.body);
    expect((await stored()).length).toBe(1);
    // the same key with another body is a conflict, named
    const other = await send({ ...packet, dest_port: 1 });
    expect(other.status).toBe(409);
    expect(
      z.object({ error: z.string(), details: z.object({ field: z.string() }) }).parse(other.body),
    ).toMatchObject({
      error: 'CONFLICT',
      details: { field: 'Idempotency-Key' },
    });
    // without a key, the same body is a new prediction
    expect((await postJson(`${api}/api/predict`, packet)).status).toBe(200);
    expect((await stored()).length).toBe(2);
  });

  it('an unstorable prediction fails only its own request, not the ones it shared a page with', async () => {
    const repository = harness.runtime.container.predictions;
    // Issued in one tick, so the small ones share one page; the first is over the page limit even gzipped.
    const outcomes = await Promise.allSettled([
      repository.putApiPredictions([draft({ note: randomBytes(340_000).toString('base64') })]),
      ...Array.from({ length: 10 }, (_, i) => repository.putApiPredictions([draft({ len: 3000 + i })])),
    ]);
    expect(outcomes[0]?.status).toBe('rejected');
    const ids: string[] = [];
    for (const outcome of outcomes.slice(1)) {
      expect(outcome.status).toBe('fulfilled');
      if (outcome.status === 'fulfilled') ids.push(...outcome.value.map((p) => p.prediction_id));
    }
    // one shared page: the ids name it
    expect(new Set(ids.map((id) => id.split(':')[1])).size).toBe(1);
    const history = await requestJson(`${api}/api/history?capture_id=api&limit=1000`);
    const stored = new Set(
      z
        .array(historyItemSchema)
        .parse(history.body)
        .map((item) => item.id),
    );
    for (const id of ids) expect(stored.has(id)).toBe(true);
    // ... and each is retrievable on its own
    const one = await repository.get(ids[3] ?? '');
    expect(one?.input).toEqual({ len: 3003 });
  });

  it('records API predictions Kafka refused with their page, lists them for the sweep and unlists them once acknowledged', async () => {
    const repository = harness.runtime.container.predictions;
    // Two pages: one of three requests in one tick, then one of its own.
    const shared = (
      await Promise.all([0, 1, 2].map((i) => repository.putApiPredictions([draft({ len: 7000 + i })])))
    ).flat();
    const [alone] = await repository.putApiPredictions([draft({ len: 7100 })]);
    const sharedPage = shared[0]?.prediction_id.split(':')[1] ?? '';
    const alonePage = alone?.prediction_id.split(':')[1] ?? '';
    expect(new Set(shared.map((p) => p.prediction_id.split(':')[1]))).toEqual(new Set([sharedPage]));
    expect(alonePage).not.toBe(sharedPage);
    const listed = async () =>
      new Map(
        (await repository.apiPredictionsAwaitingRepublish(100)).map((batch) => [
          batch.pageId,
          batch.predictions.map((p) => p.prediction_id).sort(),
        ]),
      );
    const ids = shared.map((p) => p.prediction_id);
    // Records of one page add up: across writes (ADD to the set), and within one event-loop turn (one write).
    await repository.recordApiUnpublished([ids[0] ?? '']);
    await Promise.all([
      repository.recordApiUnpublished([ids[2] ?? '', alone?.prediction_id ?? '']),
      repository.recordApiUnpublished(['not-an-api-id', 'cap:000000001']),
    ]);
    let awaiting = await listed();
    expect(awaiting.get(sharedPage)).toEqual([ids[0], ids[2]].sort());
    expect(awaiting.get(alonePage)).toEqual([alone?.prediction_id]);
    // The listed predictions are the stored ones, inputs included.
    const batch = (await repository.apiPredictionsAwaitingRepublish(100)).find((b) => b.pageId === alonePage);
    expect(batch?.predictions[0]).toEqual(alone);

    // One acknowledged, one still refused: the page stays listed with the one left.
    await repository.settleApiRepublish(sharedPage, [ids[0] ?? '']);
    awaiting = await listed();
    expect(awaiting.get(sharedPage)).toEqual([ids[2]]);
    // Settling everything unlists the pages; settling again is harmless.
    await repository.settleApiRepublish(sharedPage, [ids[2] ?? '']);
    await repository.settleApiRepublish(alonePage, [alone?.prediction_id ?? '']);
    await repository.settleApiRepublish(alonePage, [alone?.prediction_id ?? '']);
    awaiting = await listed();
    expect(awaiting.has(sharedPage)).toBe(false);
    expect(awaiting.has(alonePage)).toBe(false);
    // Recorded again later (another refusal): listed again.
    await repository.recordApiUnpublished([ids[1] ?? '']);
    expect((await listed()).get(sharedPage)).toEqual([ids[1]]);
    await repository.settleApiRepublish(sharedPage, [ids[1] ?? '']);
    expect((await listed()).has(sharedPage)).toBe(false);
  });

  it('pages API predictions that overlap in time and still lists history newest first, without gaps or repeats', async () => {
    const repository = new DynamoPredictionRepository({
      client: createDocumentClient(harness.runtime.config),
      tableName: harness.runtime.config.TABLE_NAME,
      retentionDays: 90,
      timeIndexShards: 3,
      apiPageSize: 5,
    });
    // A day of its own, so nothing else in the table is in range.
    const day = Date.parse('2020-03-04T00:00:00.000Z');
    const at = (i: number) => new Date(day + 3_600_000 + ((i * 7919) % 61) * 1000 + i).toISOString();
    // 12 requests of 5 in one tick: each fills a page; their times interleave across pages.
    const stored = (
      await Promise.all(
        Array.from({ length: 12 }, (_, r) =>
          repository.putApiPredictions(
            Array.from({ length: 5 }, (_, k) =>
              draft({ len: r * 5 + k }, at(r * 5 + k), (r * 5 + k) % 3 === 0 ? 'malicious' : 'benign'),
            ),
          ),
        ),
      )
    ).flat();
    expect(new Set(stored.map((p) => p.prediction_id.split(':')[1])).size).toBe(12);
    const expected = [...stored]
      .sort((a, b) => (`${a.scored_at}#${a.prediction_id}` < `${b.scored_at}#${b.prediction_id}` ? 1 : -1))
      .map((p) => p.prediction_id);
    const range = { from: '2020-03-04T00:00:00.000Z', to: '2020-03-04T23:59:59.999Z' };
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await repository.history({ limit: 7, ...range, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((p) => p.prediction_id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(expected);

    const malicious: string[] = [];
    cursor = undefined;
    do {
      const page = await repository.history({
        limit: 4,
        verdict: 'malicious',
        ...range,
        ...(cursor ? { cursor } : {}),
      });
      malicious.push(...page.items.map((p) => p.prediction_id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    const maliciousIds = new Set(stored.filter((p) => p.verdict === 'malicious').map((p) => p.prediction_id));
    expect(malicious).toEqual(expected.filter((id) => maliciousIds.has(id)));

    for (const p of stored.slice(0, 8)) expect(await repository.get(p.prediction_id)).toEqual(p);
  });

  it('stores capture predictions as pages: conditional rewrites add nothing, capture history pages through them', async () => {
    const repository = harness.runtime.container.predictions;
    const captureId = randomUUID();
    const scoredAt = '2020-03-05T10:00:00.000Z';
    const all: Prediction[] = Array.from({ length: 600 }, (_, i) => ({
      ...draft(
        { 'Flow ID': `flow-${i + 1}`, 'Flow Duration': i },
        scoredAt,
        i % 5 === 0 ? 'malicious' : 'benign',
      ),
      capture_id: captureId,
      kind: 'flow',
      prediction_id: `${captureId}:${String(i + 1).padStart(9, '0')}`,
    }));
    await repository.putCapturePredictions(all.slice(0, 512));
    await repository.putCapturePredictions(all.slice(512));
    // a redelivered event writes the same pages again
    await repository.putCapturePredictions(all);
    expect(await repository.countForCapture(captureId)).toBe(600);
    const { items } = await allHistory(api, { capture_id: captureId, limit: '70' });
    expect(items.map((item) => item.id)).toEqual(all.map((p) => p.prediction_id).reverse());
    const malicious = await allHistory(api, { capture_id: captureId, verdict: 'malicious', limit: '33' });
    expect(malicious.items.length).toBe(120);
    expect(await repository.get(all[300]?.prediction_id ?? '')).toEqual(all[300]);
    expect(await repository.get(`${captureId}:000000601`)).toBeUndefined();
  });

  it('scores one flow record and {flows: [...]} batches with label, probability, anomaly score and verdict', async () => {
    expect(scored).toBeDefined();
    const { items } = await allHistory(api, { capture_id: scored?.id ?? '', limit: '3' });
    const records = items.slice(0, 3).map((item) => item.input);
    const batch = await postJson(`${api}/api/predict`, { flows: records });
    expect(batch.status, batch.text).toBe(200);
    const parsed = z
      .object({
        status: z.literal('success'),
        predictions: z.array(
          z.object({
            prediction_id: z.string(),
            label: z.string(),
            probability: z.number(),
            anomaly_score: z.number().nullable(),
            verdict: z.enum(['benign', 'malicious']),
          }),
        ),
      })
      .parse(batch.body);
    expect(parsed.predictions.length).toBe(records.length);
    // Same record, same models → the same verdict as the pipeline gave it.
    parsed.predictions.forEach((prediction, i) => {
      expect(prediction.verdict).toBe(items[i]?.verdict);
      expect(prediction.probability).toBeCloseTo(items[i]?.result ?? -1, 6);
    });

    const single = await postJson(`${api}/api/predict`, records[0]);
    expect(single.status).toBe(200);
    expect(
      z
        .object({
          status: z.literal('success'),
          prediction: z.number(),
          result: z.object({ verdict: z.string() }),
        })
        .parse(single.body).prediction,
    ).toBeCloseTo(items[0]?.result ?? -1, 6);
  });

  it('a damaged capture fails with the reader error while a good one uploaded with it is scored', async () => {
    const damaged = damagedCapture();
    const good = { name: 'good.pcap', bytes: builtCapture(120, 3) };
    const [bad, fine] = await Promise.all([
      uploadWithPresignedPost(api, damaged.name, damaged.bytes),
      uploadWithPresignedPost(api, good.name, good.bytes),
    ]);
    const [badView, fineView] = await Promise.all([
      waitForCapture(api, bad.ticket.capture_id),
      waitForCapture(api, fine.ticket.capture_id),
    ]);
    expect(badView.status).toBe('FAILED');
    expect(badView.errors[0]?.code).toBe('PCAP_FORMAT');
    expect(badView.errors[0]?.name).toBe('PcapFormatError');
    expect(typeof badView.errors[0]?.details.byteOffset).toBe('number');
    // what was readable is kept (packets counted, CSVs written) but nothing is scored
    expect(badView.counts.packets).toBe(49);
    expect(badView.links.packets).not.toBeNull();
    expect(badView.links.features).toBeNull();
    expect(fineView.status).toBe('SCORED');
    expect(fineView.counts.packets).toBe(120);
  });

  it('a file that is not a capture fails with NOT_A_CAPTURE', async () => {
    const bytes = new TextEncoder().encode('this is not a packet capture at all\n'.repeat(10));
    const { ticket } = await uploadWithPresignedPost(api, 'notes.txt', bytes);
    const view = await waitForCapture(api, ticket.capture_id);
    expect(view.status).toBe('FAILED');
    expect(view.errors[0]?.code).toBe('NOT_A_CAPTURE');
  });

  it('a failed parse attempt gives its claim back (the retried event parses at once); another claim is kept', async () => {
    const captures = new DynamoCaptureRepository({
      client: createDocumentClient(harness.runtime.config),
      tableName: harness.runtime.config.TABLE_NAME,
      retentionDays: 1,
      timeIndexShards: 4,
    });
    const id = randomUUID();
    const at = Date.now();
    await captures.create({
      captureId: id,
      filename: 'x.pcap',
      sizeBytes: 1,
      tags: {},
      uploadKey: `uploads/${id}/x.pcap`,
      createdAt: new Date(at).toISOString(),
    });
    expect(await captures.claim(id, 'parse', at, 900)).toBe(true);
    expect(await captures.claim(id, 'parse', at + 1, 900)).toBe(false);
    // Not this claim's time: another attempt's release leaves it alone.
    await captures.releaseClaim(id, 'parse', at + 5);
    expect(await captures.claim(id, 'parse', at + 2, 900)).toBe(false);
    await captures.releaseClaim(id, 'parse', at);
    expect(await captures.claim(id, 'parse', at + 3, 900)).toBe(true);
  });

  it('a duplicate S3 event adds no predictions and leaves the capture SCORED', async () => {
    expect(scored).toBeDefined();
    const id = scored?.id ?? '';
    const before = await harness.runtime.container.predictions.countForCapture(id);
    expect(before).toBe(scored?.predictions);
    const view = await captureView(api, id);
    const event = (key: string) => ({
      Records: [
        {
          eventVersion: '2.1',
          eventSource: 'aws:s3' as const,
          awsRegion: 'us-east-1',
          eventTime: new Date().toISOString(),
          eventName: 'ObjectCreated:Put',
          userIdentity: { principalId: 'AWS:LOCAL' },
          requestParameters: { sourceIPAddress: '127.0.0.1' },
          responseElements: { 'x-amz-request-id': 'LOCAL', 'x-amz-id-2': 'LOCAL' },
          s3: {
            s3SchemaVersion: '1.0',
            configurationId: 'redelivery',
            bucket: {
              name: harness.runtime.config.CAPTURE_BUCKET,
              ownerIdentity: { principalId: 'LOCAL' },
              arn: 'arn:aws:s3:::bucket',
            },
            object: { key, size: 1, eTag: 'x', sequencer: '0A' },
          },
        },
      ],
    });
    const uploadKey = new URL(view.links.upload ?? '').pathname.split('/').slice(2).join('/');
    const flows = view.counts.flows ?? 0;
    expect(flows).toBeGreaterThan(256);
    const firstPart = featurePartKey(id, 1, false);
    const lastPart = featurePartKey(id, 256 * Math.floor(flows / 256) + 1, true);
    expect(
      harness.invocations.filter((i) => i.key === firstPart || i.key === lastPart).map((i) => i.outcome),
    ).toEqual(['ok', 'ok']);
    await Promise.all([
      harness.runtime.deliverS3Event(event(firstPart)),
      harness.runtime.deliverS3Event(event(lastPart)),
      harness.runtime.deliverS3Event(event(lastPart)),
      harness.runtime.deliverS3Event(event(uploadKey)),
    ]);
    await harness.runtime.settled();
    expect(await harness.runtime.container.predictions.countForCapture(id)).toBe(before);
    const after = await captureView(api, id);
    expect(after.status).toBe('SCORED');
    expect(after.counts).toEqual(view.counts);
    const { items } = await allHistory(api, { capture_id: id, limit: '500' });
    expect(items.length).toBe(before);
  });

  it('the presigned POST policy refuses a file over the size limit', async () => {
    const asked = await postJson(`${api}/api/upload_pcap`, { filename: 'big.pcap', size_bytes: 1000 });
    const ticket = z
      .object({
        capture_id: z.string(),
        upload: z.object({ url: z.string(), fields: z.record(z.string(), z.string()) }),
      })
      .parse(asked.body);
    const form = new FormData();
    for (const [field, value] of Object.entries(ticket.upload.fields)) form.append(field, value);
    form.append('file', new Blob([new Uint8Array(MAX_UPLOAD_BYTES + 1)]), 'big.pcap');
    const response = await fetch(ticket.upload.url, { method: 'POST', body: form });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('EntityTooLarge');
    const view = await captureView(api, ticket.capture_id);
    expect(view.status).toBe('PENDING');
    expect(view.links.upload).toBeNull();

    // a tampered policy field is refused as well
    const tampered = new FormData();
    for (const [field, value] of Object.entries(ticket.upload.fields)) {
      tampered.append(field, field === 'key' ? `uploads/${ticket.capture_id}/other.pcap` : value);
    }
    tampered.append('file', new Blob([new Uint8Array(10)]), 'x.pcap');
    const refused = await fetch(ticket.upload.url, { method: 'POST', body: tampered });
    expect(refused.status).toBe(403);

    // asking for more than the limit is refused by the API
    const tooBig = await postJson(`${api}/api/upload_pcap`, {
      filename: 'big.pcap',
      size_bytes: MAX_UPLOAD_BYTES + 1,
    });
    expect(tooBig.status).toBe(413);
    expect(tooBig.body).toMatchObject({
      error: 'PAYLOAD_TOO_LARGE',
      details: { field: 'size_bytes', limit: MAX_UPLOAD_BYTES },
    });
  });

  it('accepts a small multipart/form-data upload and answers 413 for a larger one, naming the presigned flow', async () => {
    const small = new FormData();
    small.append('file', new Blob([builtCapture(30, 9)]), 'inline.pcap');
    const stored = await requestJson(`${api}/api/upload_pcap`, { method: 'POST', body: small });
    expect(stored.status, stored.text).toBe(201);
    const ticket = z.object({ capture_id: z.string(), upload: z.null() }).parse(stored.body);
    expect((await waitForCapture(api, ticket.capture_id)).status).toBe('SCORED');

    const large = new FormData();
    large.append('file', new Blob([new Uint8Array(INLINE_MAX_BYTES * 2)]), 'large.pcap');
    const refused = await requestJson(`${api}/api/upload_pcap`, { method: 'POST', body: large });
    expect(refused.status).toBe(413);
    expect(refused.body).toMatchObject({ error: 'PAYLOAD_TOO_LARGE' });
    expect(JSON.stringify(refused.body)).toContain('presigned');
  });

  it('answers bad requests with 400/422 naming the field, and unknown captures with 404', async () => {
    const malformed = await postJson(`${api}/api/predict`, '{"len":60,');
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatchObject({ error: 'VALIDATION', details: { field: 'body' } });

    const unknownField = await postJson(`${api}/api/predict`, {
      len: 60,
      source_port: 80,
      dest_port: 443,
      colour: 'red',
    });
    expect(unknownField.status).toBe(422);
    expect(unknownField.body).toMatchObject({ details: { field: 'colour' } });

    const wrongType = await postJson(`${api}/api/predict`, { len: '60', source_port: 80, dest_port: 443 });
    expect(wrongType.status).toBe(422);
    expect(wrongType.body).toMatchObject({ details: { field: 'len' } });

    const badFlow = await postJson(`${api}/api/predict`, { flows: [{ 'Flow Duration': 'long' }] });
    expect(badFlow.status).toBe(422);
    expect(badFlow.body).toMatchObject({ details: { field: 'flows.0.Flow Duration' } });

    const missing = await postJson(`${api}/api/predict`, { 'Flow Duration': 10 });
    expect(missing.status).toBe(422);
    expect(missing.body).toMatchObject({ error: 'FEATURE_SCHEMA' });
    expect(JSON.stringify(missing.body)).toContain('Missing required columns');

    const uploadType = await postJson(`${api}/api/upload_pcap`, { filename: 7, size_bytes: 10 });
    expect(uploadType.status).toBe(422);
    expect(uploadType.body).toMatchObject({ details: { field: 'filename' } });

    const badVerdict = await requestJson(`${api}/api/history?verdict=evil`);
    expect(badVerdict.status).toBe(422);
    expect(badVerdict.body).toMatchObject({ details: { field: 'verdict' } });

    const badCursor = await requestJson(`${api}/api/history?cursor=nonsense`);
    expect(badCursor.status).toBe(422);
    expect(badCursor.body).toMatchObject({ details: { field: 'cursor' } });

    const unknown = await requestJson(`${api}/api/captures/00000000-0000-4000-8000-000000000000`);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ error: 'NOT_FOUND' });

    const preflight = await fetch(`${api}/api/predict`, {
      method: 'OPTIONS',
      headers: { origin: 'http://example.test', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBeLessThan(300);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('filters history by time range', async () => {
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const none = await requestJson(`${api}/api/history?from=${encodeURIComponent(future)}`);
    expect(none.status).toBe(200);
    expect(none.body).toEqual([]);
    const past = new Date(Date.now() - 3_600_000).toISOString();
    const some = await requestJson(`${api}/api/history?limit=5&from=${encodeURIComponent(past)}`);
    expect(z.array(historyItemSchema).parse(some.body).length).toBe(5);
  });
});
