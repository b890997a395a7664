/**
 * Property tests for the container readers: random valid captures, randomly mutated and truncated, read
 * as a whole buffer and as random chunks.
 * - Only the project's typed outcomes: a summary (clean or with a `PcapFormatError` damage) or a thrown
 *   `NotACaptureError` — never any other exception, never a hang.
 * - Never a read outside the data: the input is wrapped in a Proxy that records every out-of-range index.
 * - Every delivered frame lies inside its buffer, with sane lengths and timestamps.
 * - Chunking does not change the outcome.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readCapture } from '../../../../functions/capture/capture-reader.js';
import type { RawFrame } from '../../../../functions/capture/frame.js';
import { NotACaptureError, PcapFormatError } from '../../../../functions/platform/errors.js';
import {
  buildPcap,
  buildPcapng,
  gzipCapture,
  type PacketSpec,
  type PcapngBlockSpec,
  splitAt,
} from '../../../support/capture-files.js';

interface OutOfRange {
  index: string;
  length: number;
}

/** A Uint8Array look-alike that records reads outside [0, length). */
function guarded(data: Uint8Array, violations: OutOfRange[]): Uint8Array {
  return new Proxy(data, {
    get(target, property) {
      if (typeof property === 'string' && /^-?\d+(\.\d+)?$/.test(property)) {
        const index = Number(property);
        if (!Number.isInteger(index) || index < 0 || index >= target.length) {
          violations.push({ index: property, length: target.length });
        }
        return target[index];
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

const packetArb: fc.Arbitrary<PacketSpec> = fc.record({
  tsSec: fc.integer({ min: 0, max: 0xffffffff }),
  tsNanos: fc.integer({ min: 0, max: 999_999_999 }),
  data: fc.uint8Array({ maxLength: 48 }),
  originalLength: fc.option(fc.integer({ min: 0, max: 70_000 }), { nil: undefined }),
});

const pcapArb = fc
  .record({
    byteOrder: fc.constantFrom('le' as const, 'be' as const),
    variant: fc.constantFrom('us' as const, 'ns' as const, 'modified' as const),
    versionMinor: fc.constantFrom(2, 3, 4),
    snapLength: fc.constantFrom(0, 16, 64, 65535),
    linkType: fc.constantFrom(1, 101, 113, 231, 0x04000001 | (1 << 28)),
    packets: fc.array(packetArb, { maxLength: 5 }),
  })
  .map(({ linkType, ...options }) => buildPcap({ ...options, linkTypeField: linkType >>> 0 }));

const blockArb: fc.Arbitrary<PcapngBlockSpec> = fc.oneof(
  fc.record({
    type: fc.constant('idb' as const),
    linkType: fc.constantFrom(0, 1, 101, 127, 276),
    snapLength: fc.constantFrom(0, 20, 65535),
    tsresol: fc.constantFrom(0, 3, 6, 9, 12, 0x8a, 0x94, 0xa0, 0xbf),
    tsoffset: fc.bigInt({ min: -(2n ** 40n), max: 2n ** 40n }),
    name: fc.string({ maxLength: 6 }),
  }),
  fc
    .record({
      interfaceId: fc.integer({ min: 0, max: 3 }),
      timestamp: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      packet: packetArb,
    })
    .map(({ interfaceId, timestamp, packet }) => ({
      type: 'epb' as const,
      interfaceId,
      timestamp,
      ...packet,
    })),
  fc.record({ type: fc.constant('spb' as const), data: fc.uint8Array({ maxLength: 40 }) }),
  fc
    .record({ interfaceId: fc.integer({ min: 0, max: 2 }), packet: packetArb })
    .map(({ interfaceId, packet }) => ({ type: 'pb' as const, interfaceId, ...packet })),
  fc.record({ type: fc.constant('isb' as const), interfaceId: fc.integer({ min: 0, max: 2 }) }),
  fc.record({
    type: fc.constant('nrb' as const),
    records: fc.array(
      fc.record({
        kind: fc.constant('ipv4' as const),
        address: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }),
        names: fc.array(fc.string({ maxLength: 5 }), { maxLength: 2 }),
      }),
      { maxLength: 3 },
    ),
  }),
  fc.record({
    type: fc.constant('dsb' as const),
    secretsType: fc.nat(),
    data: fc.uint8Array({ maxLength: 12 }),
  }),
  fc.record({ type: fc.constant('custom' as const), pen: fc.nat(), data: fc.uint8Array({ maxLength: 12 }) }),
  fc.record({
    type: fc.constant('raw' as const),
    blockType: fc.integer({ min: 7, max: 0x7fffffff }),
    body: fc.uint8Array({ maxLength: 12 }),
  }),
);

const pcapngArb = fc
  .array(
    fc.record({
      byteOrder: fc.constantFrom('le' as const, 'be' as const),
      blocks: fc.array(blockArb, { maxLength: 6 }),
    }),
    { minLength: 1, maxLength: 3 },
  )
  .map((sections) =>
    buildPcapng({
      blocks: sections.flatMap(({ byteOrder, blocks }): PcapngBlockSpec[] => [
        { type: 'shb', byteOrder },
        { type: 'idb', linkType: 1 },
        ...blocks,
      ]),
    }),
  );

type Mutation =
  | { kind: 'set'; at: number; value: number }
  | { kind: 'set32'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    kind: fc.constant('set32' as const),
    at: fc.nat(),
    value: fc.constantFrom(0, 1, 6, 12, 0x0a0d0d0a, 0x1a2b3c4d, 0x7fffffff, 0xffffffff, 0xfffffff0, 0x10000),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
);

function mutate(file: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let data = file.slice();
  for (const mutation of mutations) {
    if (data.length === 0) break;
    const at = mutation.at % data.length;
    switch (mutation.kind) {
      case 'set':
        data[at] = mutation.value;
        break;
      case 'set32':
        for (let i = 0; i < 4 && at + i < data.length; i++)
          data[at + i] = (mutation.value >>> (8 * i)) & 0xff;
        break;
      case 'truncate':
        data = data.slice(0, at);
        break;
      case 'insert':
        data = Uint8Array.from([...data.subarray(0, at), ...mutation.bytes, ...data.subarray(at)]);
        break;
      case 'delete':
        data = Uint8Array.from([...data.subarray(0, at), ...data.subarray(at + mutation.count)]);
        break;
    }
  }
  return data;
}

interface Outcome {
  kind: 'summary' | 'not-a-capture';
  packets: number;
  frames: string[];
  damage: string | undefined;
  problems: string[];
}

/** Reads and checks every frame; any exception other than NotACaptureError propagates (fails the test). */
async function readChecked(
  source: Uint8Array | AsyncIterable<Uint8Array>,
  violations: OutOfRange[],
): Promise<Outcome> {
  const frames: string[] = [];
  const problems: string[] = [];
  const check = (frame: RawFrame): void => {
    const length = frame.bytes.length;
    if (frame.offset < 0 || frame.capturedLength < 0 || frame.offset + frame.capturedLength > length) {
      problems.push(`frame ${frame.index} outside its buffer`);
    }
    if (!(frame.tsNanos >= 0 && frame.tsNanos < 1e9 && Number.isInteger(frame.tsNanos))) {
      problems.push(`frame ${frame.index} tsNanos ${frame.tsNanos}`);
    }
    if (!Number.isFinite(frame.tsSec) || frame.originalLength < 0 || frame.linkType < 0) {
      problems.push(`frame ${frame.index} bad fields`);
    }
    // Touch the frame's bytes through the (possibly guarded) buffer, as a decoder would.
    let sum = 0;
    for (let i = frame.offset; i < frame.offset + frame.capturedLength; i++) sum += frame.bytes[i]!;
    frames.push(
      `${frame.index}:${frame.linkType}:${frame.tsSec}.${frame.tsNanos}:${frame.capturedLength}/${frame.originalLength}:${sum}`,
    );
  };
  try {
    const summary = await readCapture(source, check, { maxBlockBytes: 1 << 20 });
    if (summary.damage !== undefined && !(summary.damage instanceof PcapFormatError))
      problems.push('untyped damage');
    if (summary.packets !== frames.length) problems.push('packet count differs from frames delivered');
    for (const violation of violations) problems.push(`read index ${violation.index} of ${violation.length}`);
    return { kind: 'summary', packets: summary.packets, frames, damage: summary.damage?.message, problems };
  } catch (error) {
    if (error instanceof NotACaptureError) {
      for (const violation of violations)
        problems.push(`read index ${violation.index} of ${violation.length}`);
      return { kind: 'not-a-capture', packets: 0, frames, damage: undefined, problems };
    }
    throw error;
  }
}

async function checkFile(data: Uint8Array, cuts: readonly number[]): Promise<void> {
  const wholeViolations: OutOfRange[] = [];
  const whole = await readChecked(guarded(data, wholeViolations), wholeViolations);
  expect(whole.problems).toEqual([]);

  const chunkViolations: OutOfRange[] = [];
  const sortedCuts = [...new Set(cuts.map((cut) => (data.length === 0 ? 0 : cut % data.length)))].sort(
    (a, b) => a - b,
  );
  async function* guardedChunks(): AsyncGenerator<Uint8Array> {
    for await (const chunk of splitAt(data, sortedCuts)) yield guarded(chunk, chunkViolations);
  }
  const chunked = await readChecked(guardedChunks(), chunkViolations);
  expect(chunked.problems).toEqual([]);
  // Chunking never changes what is read.
  expect(chunked.kind).toBe(whole.kind);
  expect(chunked.frames).toEqual(whole.frames);
  expect(chunked.damage).toBe(whole.damage);
}

const RUNS = 400;

describe('container readers under random mutation (fast-check)', () => {
  it('the guard itself notices out-of-range reads (so the properties below mean something)', () => {
    const violations: OutOfRange[] = [];
    const data = guarded(Uint8Array.of(1, 2, 3), violations);
    expect(data[2]).toBe(3);
    expect(data instanceof Uint8Array).toBe(true);
    expect(data.subarray(1).length).toBe(2);
    expect(data[3]).toBeUndefined();
    expect(violations).toEqual([{ index: '3', length: 3 }]);
  });

  it('classic pcap: typed outcomes only, in bounds, chunking-invariant', async () => {
    await fc.assert(
      fc.asyncProperty(
        pcapArb,
        fc.array(mutationArb, { maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 5 }),
        async (file, mutations, cuts) => checkFile(mutate(file, mutations), cuts),
      ),
      { numRuns: RUNS },
    );
  });

  it('pcapng: typed outcomes only, in bounds, chunking-invariant', async () => {
    await fc.assert(
      fc.asyncProperty(
        pcapngArb,
        fc.array(mutationArb, { maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 5 }),
        async (file, mutations, cuts) => checkFile(mutate(file, mutations), cuts),
      ),
      { numRuns: RUNS },
    );
  });

  it('valid captures (no mutation) read cleanly whole and chunked', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(pcapArb, pcapngArb),
        fc.array(fc.nat(), { maxLength: 6 }),
        async (file, cuts) => {
          await checkFile(file, cuts);
          const violations: OutOfRange[] = [];
          const outcome = await readChecked(file, violations);
          expect(outcome.kind).toBe('summary');
        },
      ),
      { numRuns: 150 },
    );
  });

  it('random bytes behind a capture magic: typed outcomes only', async () => {
    const magics = [
      [0xd4, 0xc3, 0xb2, 0xa1],
      [0xa1, 0xb2, 0x3c, 0x4d],
      [0x34, 0xcd, 0xb2, 0xa1],
      [0x0a, 0x0d, 0x0d, 0x0a],
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...magics),
        fc.uint8Array({ maxLength: 300 }),
        fc.array(fc.nat(), { maxLength: 4 }),
        async (magic, rest, cuts) => checkFile(Uint8Array.from([...magic, ...rest]), cuts),
      ),
      { numRuns: RUNS },
    );
  });

  it('mutated gzip-compressed captures: typed outcomes only', async () => {
    await fc.assert(
      fc.asyncProperty(
        pcapArb,
        fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
        async (file, mutations) => {
          const data = mutate(gzipCapture(file), mutations);
          const violations: OutOfRange[] = [];
          const outcome = await readChecked(data, violations);
          expect(outcome.problems).toEqual([]);
        },
      ),
      { numRuns: 100 },
    );
  });
});
