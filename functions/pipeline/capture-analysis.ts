import type { CaptureSummary } from '../capture/capture-reader.js';

/**
 * The seam between the pipeline and the capture/flow engines: one streaming pass over a capture that
 * writes packet CSV rows and flow CSV rows (which are also what the models read, see features/). `capture-analyzer.ts`
 * implements it with the real reader, decoders and flow meter; tests may pass another.
 */
export interface AnalysisSinks {
  /** Packet CSV bytes (UTF-8, header first), in order; each chunk may be kept. */
  packetCsv(chunk: Uint8Array): void;
  /** Flow CSV bytes (UTF-8, header first, FLOW_CSV_COLUMNS), in order; each chunk may be kept. */
  flowCsv(chunk: Uint8Array): void;
}

export interface CaptureAnalysis {
  summary: CaptureSummary;
  flows: number;
  /** Microseconds since the epoch of the first and last packet; null without packets. */
  firstPacketUs: number | null;
  lastPacketUs: number | null;
}

export type CaptureAnalyzer = (
  source: AsyncIterable<Uint8Array>,
  sinks: AnalysisSinks,
  options: { sourceName: string },
) => Promise<CaptureAnalysis>;
