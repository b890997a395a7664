import { readCapture } from '../capture/capture-reader.js';
import { decodeFrame } from '../capture/decode/index.js';
import { DecodedPacket } from '../capture/decoded-packet.js';
import { frameTimestampUs, type RawFrame } from '../capture/frame.js';
import { loadProtocolNames, type ProtocolNames } from '../capture/protocol-names.js';
import { CsvRowBuffer } from '../flows/csv-row-buffer.js';
import { FlowMeter } from '../flows/flow-meter.js';
import type { FlowMeterOptions } from '../flows/flow-options.js';
import { FLOW_CSV_HEADER } from '../records/flow-csv.js';
import { PacketCsvWriter } from '../records/packet-csv.js';
import type { CaptureAnalyzer } from './capture-analysis.js';

/**
 * The real analyzer: one pass of the capture reader; each frame is decoded once into a reused packet and
 * given to both the packet CSV writer and the flow meter (the same work `ccf packets` + `ccf flows` do).
 * Flows take the meter's direct CSV path (rows written as bytes from its state, no FlowRecord objects): the
 * flow CSV is also the model input score-flows reads, so nothing else needs records here.
 */
export function createCaptureAnalyzer(
  options: { protocolNames?: ProtocolNames; flows?: FlowMeterOptions } = {},
) {
  const names = options.protocolNames ?? loadProtocolNames();
  const analyze: CaptureAnalyzer = async (source, sinks, { sourceName }) => {
    const packet = new DecodedPacket();
    // Rows handed on as bytes: no latin1 string per chunk for the gzip stream to encode back.
    const packetCsv = new PacketCsvWriter(names, () => {}, {
      chunkChars: 256 * 1024,
      onBytes: (chunk) => sinks.packetCsv(chunk),
    });
    sinks.flowCsv(Buffer.from(FLOW_CSV_HEADER, 'utf8'));
    const flowRows = CsvRowBuffer.toBytes((chunk) => sinks.flowCsv(chunk));
    const meter = new FlowMeter(options.flows ?? {}, () => {}, flowRows);
    let firstPacketUs: number | null = null;
    let lastPacketUs: number | null = null;
    const onFrame = (frame: RawFrame) => {
      decodeFrame(frame, packet);
      packetCsv.writePacket(frame, packet);
      meter.add(frame, packet);
      const ts = frameTimestampUs(frame);
      if (firstPacketUs === null || ts < firstPacketUs) firstPacketUs = ts;
      if (lastPacketUs === null || ts > lastPacketUs) lastPacketUs = ts;
    };
    async function* flushing(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
      for await (const chunk of chunks) {
        yield chunk;
        // Hand gathered rows on before the caller waits for its outputs to drain.
        packetCsv.flush();
      }
    }
    const summary = await readCapture(flushing(source), onFrame, { sourceName });
    const flows = meter.finish().flows;
    flowRows.flush();
    packetCsv.end();
    return { summary, flows, firstPacketUs, lastPacketUs };
  };
  return analyze;
}
