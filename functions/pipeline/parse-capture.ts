import { createHash } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { NotFoundError } from '../platform/errors.js';
import type { CaptureRepository, CaptureStore, Clock, ParseResult } from '../platform/ports.js';
import type { CaptureAnalyzer } from './capture-analysis.js';
import { captureIdOfUploadKey, derivedKeys, featurePartKey, safeFileName } from './capture-keys.js';
import { errorInfo } from './error-info.js';
import { type FeaturePart, FeaturePartWriter } from './feature-parts.js';
import { completeIfScored } from './score-capture.js';
import type { FlowContextSource } from './scoring.js';
import { TextSink } from './text-sink.js';

export interface ParseDependencies {
  store: CaptureStore;
  captures: CaptureRepository;
  analyze: CaptureAnalyzer;
  clock: Clock;
  claimLeaseS: number;
  /** A fresh capture-context accumulator (configured as the models were trained), one per capture. */
  newFlowContext: () => FlowContextSource;
  /** Flows per features part (a multiple of the prediction page size). */
  featurePartFlows: number;
}

/**
 * Feature parts being uploaded while parsing goes on (each is ~3–5 MB at 8,192 flows: ≤ ~30 MB waiting). The flow
 * meter hands out flows in bursts (a time jump expires thousands at once: 6 parts within ~0.2 s of the bench
 * capture), and with 2 in flight parsing stopped at each burst until all but 2 were stored.
 */
const PART_UPLOADS_IN_FLIGHT = 6;

export type ParseOutcome =
  | { outcome: 'parsed'; captureId: string; result: ParseResult }
  | { outcome: 'failed'; captureId: string; code: string }
  | { outcome: 'skipped'; captureId: string | undefined; reason: string };

/**
 * parse-capture: stream the uploaded object once, writing packets/{id}.csv.gz and flows/{id}.csv with
 * multipart uploads and the model input in parts (features/{id}/…, the flow CSV + context columns, see
 * feature-parts.ts) as soon as each part is full, so scoring starts while parsing goes on; record PARSED
 * (counts, sha256, duration, warnings) or FAILED with the reader's typed error. Idempotent: a redelivered
 * event finds the claim taken or the capture past PENDING and does nothing (parts have deterministic keys
 * and contents, so a parse taken over after a crash rewrites the same objects).
 */
export async function parseCapture(deps: ParseDependencies, objectKey: string): Promise<ParseOutcome> {
  const captureId = captureIdOfUploadKey(objectKey);
  if (!captureId)
    return { outcome: 'skipped', captureId, reason: `key outside uploads/{captureId}/: ${objectKey}` };

  const startedMs = deps.clock.now().getTime();
  // An object put into uploads/ without asking for a URL first still gets a record.
  await deps.captures.create({
    captureId,
    filename: safeFileName(objectKey.slice(objectKey.lastIndexOf('/') + 1)),
    sizeBytes: 0,
    tags: {},
    uploadKey: objectKey,
    createdAt: new Date(startedMs).toISOString(),
  });
  if (!(await deps.captures.claim(captureId, 'parse', startedMs, deps.claimLeaseS))) {
    return { outcome: 'skipped', captureId, reason: 'already parsed or being parsed' };
  }
  try {
    return await parseClaimed(deps, objectKey, captureId, startedMs);
  } catch (error) {
    // A retryable failure (S3, DynamoDB, a bug) is rethrown for Lambda to retry the event: give the claim
    // back first, or the retry would find it taken and the capture would wait out the whole lease.
    await deps.captures.releaseClaim(captureId, 'parse', startedMs).catch(() => undefined);
    throw error;
  }
}

async function parseClaimed(
  deps: ParseDependencies,
  objectKey: string,
  captureId: string,
  startedMs: number,
): Promise<ParseOutcome> {
  const keys = derivedKeys(captureId);
  let object: Awaited<ReturnType<CaptureStore['getObject']>>;
  try {
    object = await deps.store.getObject(objectKey);
  } catch (error) {
    if (error instanceof NotFoundError) {
      await deps.captures.markFailed(captureId, errorInfo('parse', error), null);
      return { outcome: 'failed', captureId, code: error.code };
    }
    throw error;
  }

  const packetsOut = new PassThrough();
  const flowsOut = new PassThrough();
  // Output in 256 KiB buffers instead of zlib's 16 KiB: each buffer filled is a round trip to the thread pool
  // (~600 per 100 MB capture at the default, ~40 now) and a chunk for the multipart upload.
  const packetsGzip = packetsOut.pipe(createGzip({ level: 1, chunkSize: 256 * 1024 }));
  const packetSink = new TextSink(packetsOut);
  const flowSink = new TextSink(flowsOut);

  const uploads = [
    deps.store.putStream(keys.packets, packetsGzip, 'text/csv', 'gzip'),
    deps.store.putStream(keys.flows, flowsOut, 'text/csv'),
  ];
  // Awaited once parsing is done; a failure before then must not count as an unhandled rejection meanwhile.
  for (const upload of uploads) upload.catch(() => undefined);
  // Each features part triggers scoring of its flows. Not compressed: score-flows reads it right away from
  // the same region; gzip would cost both sides CPU. The last part is written only if the capture parses
  // without damage (see below): without it the capture is never SCORED.
  const partUploads: Promise<void>[] = [];
  let firstPartKey = '';
  let lastPart: FeaturePart | undefined;
  const parts = new FeaturePartWriter(deps.newFlowContext(), deps.featurePartFlows, (part) => {
    if (part.last) {
      lastPart = part;
      return;
    }
    const key = featurePartKey(captureId, part.firstFlow, false);
    if (firstPartKey === '') firstPartKey = key;
    const upload = deps.store.putBytes(key, part.bytes, 'text/csv');
    upload.catch(() => undefined);
    partUploads.push(upload);
  });

  const sha256 = createHash('sha256');
  async function* hashedBody(body: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const chunk of body) {
      sha256.update(chunk);
      yield chunk;
      // Backpressure: the reader calls back synchronously, so wait for the outputs between input chunks.
      await Promise.all([packetSink.drained(), flowSink.drained()]);
      while (partUploads.length > PART_UPLOADS_IN_FLIGHT) await partUploads.shift();
    }
  }

  try {
    const analysis = await deps.analyze(
      hashedBody(object.body),
      {
        packetCsv: (chunk) => packetSink.writeBytes(chunk),
        // The flow CSV is also the model input: the same rows go to flows/ and, with context, to features/.
        flowCsv: (chunk) => {
          flowSink.writeBytes(chunk);
          parts.write(chunk);
        },
      },
      { sourceName: objectKey },
    );
    packetSink.end();
    flowSink.end();
    parts.end();
    const damage = analysis.summary.damage ? errorInfo('parse', analysis.summary.damage) : null;
    let lastKey: string | undefined;
    if (!damage) {
      const last: FeaturePart | undefined = lastPart;
      if (!last) throw new Error('the features writer ended without its last part');
      // After every other part is stored, the last one goes out at once, while the packets and flows uploads
      // finish: its scoring overlaps their tail (its scorer waits for PARSED, which still follows them).
      await Promise.all(partUploads);
      lastKey = featurePartKey(captureId, last.firstFlow, true);
      partUploads.push(deps.store.putBytes(lastKey, last.bytes, 'text/csv'));
    }
    await Promise.all([...uploads, ...partUploads]);
    const usToIso = (us: number | null) =>
      us === null ? null : new Date(Math.floor(us / 1000)).toISOString();
    const result: ParseResult = {
      format: analysis.summary.format,
      gzip: analysis.summary.gzip,
      packets: analysis.summary.packets,
      flows: analysis.flows,
      bytesRead: analysis.summary.bytesRead,
      objectBytes: object.sizeBytes,
      sha256: sha256.digest('hex'),
      firstPacketAt: usToIso(analysis.firstPacketUs),
      lastPacketAt: usToIso(analysis.lastPacketUs),
      durationS:
        analysis.firstPacketUs === null || analysis.lastPacketUs === null
          ? 0
          : (analysis.lastPacketUs - analysis.firstPacketUs) / 1e6,
      warnings: analysis.summary.warnings.slice(0, 100),
      parseMs: 0,
      keys: { ...keys, features: firstPartKey },
      damage,
    };
    if (damage) {
      // Parts written before the damage showed up may be scored (their predictions stay); the capture is not.
      result.parseMs = deps.clock.now().getTime() - startedMs;
      await deps.captures.markFailed(captureId, damage, result);
      return { outcome: 'failed', captureId, code: damage.code };
    }
    if (firstPartKey === '' && lastKey) result.keys.features = lastKey;
    result.parseMs = deps.clock.now().getTime() - startedMs;
    // The last part's event may reach score-flows before this write lands: it waits for PARSED (score-capture.ts).
    await deps.captures.markParsed(captureId, result);
    // Every part may already be recorded (the last part's scorer waits for PARSED only so long, then its retries
    // find the part recorded and wait again; on a starved machine all of them can give up): then this write is
    // the last one, and completes the capture itself.
    const progress = await deps.captures.partProgress(captureId);
    if (progress) await completeIfScored(deps, captureId, progress);
    return { outcome: 'parsed', captureId, result };
  } catch (error) {
    abort(packetsOut, packetsGzip, 'parse failed');
    abort(flowsOut, undefined, 'parse failed');
    await Promise.allSettled([...uploads, ...partUploads]);
    const info = errorInfo('parse', error);
    if (info.code === 'INTERNAL' || info.code === 'DEPENDENCY') throw error;
    // A file that is not a capture (or breaks a reader limit) fails this capture only.
    await deps.captures.markFailed(captureId, info, null);
    return { outcome: 'failed', captureId, code: info.code };
  }
}

/** Ends an output with an error so its upload rejects (multipart parts are aborted) instead of completing. */
function abort(source: PassThrough, uploaded: Readable | undefined, reason: string): void {
  const error = new Error(reason);
  const body = uploaded ?? source;
  // The upload reports the error; nothing else listens to these streams.
  source.on('error', () => undefined);
  body.on('error', () => undefined);
  if (uploaded) source.destroy();
  body.destroy(error);
}
