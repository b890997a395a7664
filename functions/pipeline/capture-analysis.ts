import type { CaptureSummary } from '../capture/capture-reader.js';
import type { FlowRecord } from '../flows/flow-columns.js';

/**
 * The seam between the pipeline and the capture/flow engines: one streaming pass over a capture that
 * writes packet CSV rows, flow CSV rows and the flow records the models read. `capture-analyzer.ts`
 * implements it with the real reader, decoders and flow meter; tests may pass another.
 */
export interface AnalysisSinks {
  /** Packet CSV text (header first), in order. */
  packetCsv(text: string): void;
  /** Flow CSV text (header first), in order. */
  flowCsv(text: string): void;
  /** Every flow as it is emitted, in the same order as its flow CSV row. */
  flow(record: FlowRecord): void;
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
