/**
 * Capture → flows as an async iterable: reads the container, decodes each frame into one reused
 * DecodedPacket, feeds the FlowMeter, and yields flow records as they expire.
 *
 * Backpressure: the reader pulls capture chunks through `paced()`, which pauses while more than
 * HIGH_WATER_FLOWS records wait for the consumer, so a slow consumer pauses reading instead of letting
 * records pile up (memory stays flat whatever the capture size).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { type CaptureReaderOptions, type CaptureSummary, readCapture } from '../capture/capture-reader.js';
import { decodeFrame } from '../capture/decode/index.js';
import { DecodedPacket } from '../capture/decoded-packet.js';
import type { RawFrame } from '../capture/frame.js';
import { NotFoundError, ValidationError } from '../platform/errors.js';
import type { FlowRecord } from './flow-columns.js';
import { FlowMeter, type FlowRunSummary } from './flow-meter.js';
import type { FlowMeterOptions } from './flow-options.js';

/** A path, a whole capture in memory, or a stream of its bytes (Node stream, S3 body, stdin). */
export type CaptureSource = string | Uint8Array | AsyncIterable<Uint8Array>;

export interface FlowExtractionSummary {
  capture: CaptureSummary;
  flows: FlowRunSummary;
}

export interface ExtractFlowsOptions extends FlowMeterOptions {
  reader?: CaptureReaderOptions;
  /** Called once, after the last record, with what the reader and the meter saw. */
  onSummary?: (summary: FlowExtractionSummary) => void;
  /**
   * A capture damaged part-way still yields every flow of its readable packets; then, by default, the
   * iteration ends by throwing the reader's `PcapFormatError`. Set false to end normally instead (the
   * damage stays in the summary).
   */
  throwOnDamage?: boolean;
}

const HIGH_WATER_FLOWS = 4096;
const CHUNK_BYTES = 1024 * 1024;

async function* chunksOfBuffer(data: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < data.length; at += CHUNK_BYTES) yield data.subarray(at, at + CHUNK_BYTES);
}

async function openFile(path: string): Promise<AsyncIterable<Uint8Array>> {
  try {
    const info = await stat(path);
    if (info.isDirectory()) {
      throw new ValidationError(`cannot read the capture '${path}': it is a directory`, {
        field: 'capture',
        path,
      });
    }
  } catch (error) {
    if (error instanceof ValidationError) throw error;
    throw new NotFoundError(
      `cannot read the capture '${path}': ${(error as Error).message}`,
      { path },
      { cause: error },
    );
  }
  return createReadStream(path, { highWaterMark: CHUNK_BYTES });
}

export async function* extractFlows(
  source: CaptureSource,
  options: ExtractFlowsOptions = {},
): AsyncGenerator<FlowRecord, void, undefined> {
  const { reader, onSummary, throwOnDamage = true, ...meterOptions } = options;
  const pending: FlowRecord[] = [];
  const meter = new FlowMeter(meterOptions, (record) => {
    pending.push(record);
  });
  const packet = new DecodedPacket();
  const onFrame = (frame: RawFrame): void => {
    decodeFrame(frame, packet);
    meter.add(frame, packet);
  };

  let wakeConsumer: (() => void) | undefined;
  let wakeReader: (() => void) | undefined;
  let stopped = false;
  const notifyConsumer = (): void => {
    const wake = wakeConsumer;
    wakeConsumer = undefined;
    wake?.();
  };
  const notifyReader = (): void => {
    const wake = wakeReader;
    wakeReader = undefined;
    wake?.();
  };

  const bytes =
    typeof source === 'string'
      ? await openFile(source)
      : source instanceof Uint8Array
        ? chunksOfBuffer(source)
        : source;
  async function* paced(): AsyncGenerator<Uint8Array> {
    for await (const chunk of bytes) {
      yield chunk;
      if (pending.length > 0) notifyConsumer();
      while (pending.length >= HIGH_WATER_FLOWS && !stopped) {
        await new Promise<void>((resolve) => {
          wakeReader = resolve;
        });
      }
      if (stopped) return;
    }
  }

  let captureSummary: CaptureSummary | undefined;
  let failure: unknown;
  let readerDone = false;
  const readerOptions: CaptureReaderOptions = {
    ...reader,
    ...(typeof source === 'string' && reader?.sourceName === undefined ? { sourceName: source } : {}),
  };
  const reading = readCapture(paced(), onFrame, readerOptions).then(
    (summary) => {
      captureSummary = summary;
    },
    (error: unknown) => {
      failure = error;
    },
  );
  void reading.finally(() => {
    readerDone = true;
    notifyConsumer();
  });

  try {
    for (;;) {
      if (pending.length > 0) {
        const batch = pending.splice(0, pending.length);
        notifyReader();
        for (const record of batch) yield record;
        continue;
      }
      if (readerDone) break;
      await new Promise<void>((resolve) => {
        wakeConsumer = resolve;
      });
    }
  } finally {
    // The consumer may stop early (break/return): let the reader finish its current chunk and stop.
    stopped = true;
    notifyReader();
    await reading;
  }
  if (failure !== undefined) throw failure;

  const flows = meter.finish();
  for (const record of pending.splice(0, pending.length)) yield record;
  const capture = captureSummary!;
  onSummary?.({ capture, flows });
  if (capture.damage !== undefined && throwOnDamage) throw capture.damage;
}
