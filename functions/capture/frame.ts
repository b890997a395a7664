/**
 * What a container reader (pcap, pcapng) yields: one captured frame, not yet decoded.
 * The frame's bytes are `bytes[offset .. offset + capturedLength)`: `bytes` is the reader's buffer, shared by
 * many frames and only valid until the next frame is delivered. Keeping buffer + offset (instead of a
 * `subarray` per packet) keeps the hot path free of per-packet allocation; use `frameData()` for a view.
 */
export interface RawFrame {
  /** 1-based position of the packet in the file (all sections, all interfaces). */
  index: number;
  /** Link-layer header type (LINKTYPE_* value) with libpcap's FCS/reserved upper bits already masked off. */
  linkType: number;
  /** pcapng interface id within its section; 0 for classic pcap. */
  interfaceId: number;
  /** Whole seconds since the Unix epoch (after if_tsoffset). */
  tsSec: number;
  /** Nanoseconds within `tsSec`, 0..999_999_999 (rounded down from the file's resolution). */
  tsNanos: number;
  /** Bytes present in the file for this packet (may be less than `originalLength`). */
  capturedLength: number;
  /** Bytes the packet had on the wire. */
  originalLength: number;
  /** The buffer holding the captured bytes (see `offset`). */
  bytes: Uint8Array;
  /** Index in `bytes` of the frame's first captured byte. */
  offset: number;
  /** Offset of the record's first byte in the (decompressed) capture stream, for error messages. */
  fileOffset: number;
}

/**
 * A zeroed frame object, for a reader to fill and reuse. Every reader (and the flow meter's warm-up) makes its
 * frame here, so they all share one object shape and the per-packet code that reads frames stays monomorphic.
 */
export function newRawFrame(): RawFrame {
  return {
    index: 0,
    linkType: 0,
    interfaceId: 0,
    tsSec: 0,
    tsNanos: 0,
    capturedLength: 0,
    originalLength: 0,
    bytes: new Uint8Array(0),
    offset: 0,
    fileOffset: 0,
  };
}

/** Integer microseconds since the epoch, as written in the `ts_us` column. Exact below year 2255. */
export function frameTimestampUs(frame: Pick<RawFrame, 'tsSec' | 'tsNanos'>): number {
  return frame.tsSec * 1_000_000 + Math.floor(frame.tsNanos / 1000);
}

/** A zero-copy view of the frame's captured bytes (valid as long as `frame.bytes` is). */
export function frameData(frame: Pick<RawFrame, 'bytes' | 'offset' | 'capturedLength'>): Uint8Array {
  return frame.bytes.subarray(frame.offset, frame.offset + frame.capturedLength);
}
