/** Helpers shared by the container-reader tests: collect frames as plain copies. */
import {
  type CaptureReaderOptions,
  type CaptureSummary,
  readCapture,
} from '../../../../functions/capture/capture-reader.js';
import { frameData, type RawFrame } from '../../../../functions/capture/frame.js';

export interface CollectedFrame {
  index: number;
  linkType: number;
  interfaceId: number;
  tsSec: number;
  tsNanos: number;
  capturedLength: number;
  originalLength: number;
  fileOffset: number;
  data: number[];
}

export function copyFrame(frame: RawFrame): CollectedFrame {
  return {
    index: frame.index,
    linkType: frame.linkType,
    interfaceId: frame.interfaceId,
    tsSec: frame.tsSec,
    tsNanos: frame.tsNanos,
    capturedLength: frame.capturedLength,
    originalLength: frame.originalLength,
    fileOffset: frame.fileOffset,
    data: Array.from(frameData(frame)),
  };
}

export async function collect(
  source: Uint8Array | AsyncIterable<Uint8Array>,
  options?: CaptureReaderOptions,
): Promise<{ summary: CaptureSummary; frames: CollectedFrame[] }> {
  const frames: CollectedFrame[] = [];
  const summary = await readCapture(source, (frame) => frames.push(copyFrame(frame)), options);
  return { summary, frames };
}

export function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

/** `count` bytes with a recognisable pattern. */
export function pattern(count: number, seed = 1): Uint8Array {
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) out[i] = (i * 7 + seed) & 0xff;
  return out;
}
