import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CommunityIdInput,
  communityIdV1,
  communityIdV1Ipv4,
} from '../../../functions/flows/community-id.js';

const v4 = (text: string): Uint8Array => new Uint8Array(text.split('.').map(Number));
const v6 = (hex: string): Uint8Array => new Uint8Array(hex.match(/../g)!.map((b) => Number.parseInt(b, 16)));
const A6 = v6('fe80000102030405060708090a0b0c0d');
const B6 = v6('fe80101112131415161718191a1b1c1d');

const ipv4Value = (bytes: Uint8Array): number =>
  ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;

/** The arguments of communityIdV1Ipv4 for an IPv4 input of communityIdV1. */
function ipv4Arguments(
  input: CommunityIdInput,
): [number, number, number, number, number, number, number, number] {
  return [
    ipv4Value(input.sourceAddress),
    ipv4Value(input.destinationAddress),
    input.ipProtocol,
    input.sourcePort,
    input.destinationPort,
    input.icmpType ?? 0,
    input.icmpCode ?? 0,
    input.seed ?? 0,
  ];
}

// Published test vectors of the Community ID spec (corelight/community-id-spec, as used by Zeek's btest).
describe('Community ID v1', () => {
  const cases: [string, Parameters<typeof communityIdV1>[0], string][] = [
    [
      'tcp',
      {
        sourceAddress: v4('1.2.3.4'),
        destinationAddress: v4('5.6.7.8'),
        ipProtocol: 6,
        sourcePort: 1122,
        destinationPort: 3344,
      },
      '1:wCb3OG7yAFWelaUydu0D+125CLM=',
    ],
    [
      'tcp reversed',
      {
        sourceAddress: v4('5.6.7.8'),
        destinationAddress: v4('1.2.3.4'),
        ipProtocol: 6,
        sourcePort: 3344,
        destinationPort: 1122,
      },
      '1:wCb3OG7yAFWelaUydu0D+125CLM=',
    ],
    [
      'udp',
      {
        sourceAddress: v4('1.2.3.4'),
        destinationAddress: v4('5.6.7.8'),
        ipProtocol: 17,
        sourcePort: 1122,
        destinationPort: 3344,
      },
      '1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=',
    ],
    [
      'icmp echo',
      {
        sourceAddress: v4('1.2.3.4'),
        destinationAddress: v4('5.6.7.8'),
        ipProtocol: 1,
        sourcePort: 0,
        destinationPort: 0,
        icmpType: 8,
        icmpCode: 0,
      },
      '1:crodRHL2FEsHjbv3UkRrfbs4bZ0=',
    ],
    [
      'icmp echo reply',
      {
        sourceAddress: v4('5.6.7.8'),
        destinationAddress: v4('1.2.3.4'),
        ipProtocol: 1,
        sourcePort: 0,
        destinationPort: 0,
        icmpType: 0,
        icmpCode: 0,
      },
      '1:crodRHL2FEsHjbv3UkRrfbs4bZ0=',
    ],
    [
      'icmp6 echo',
      {
        sourceAddress: A6,
        destinationAddress: B6,
        ipProtocol: 58,
        sourcePort: 0,
        destinationPort: 0,
        icmpType: 128,
        icmpCode: 0,
      },
      '1:0bf7hyMJUwt3fMED7z8LIfRpBeo=',
    ],
    [
      'rsvp (no ports)',
      {
        sourceAddress: v4('1.2.3.4'),
        destinationAddress: v4('5.6.7.8'),
        ipProtocol: 46,
        sourcePort: 0,
        destinationPort: 0,
      },
      '1:ikv3kmf89luf73WPz1jOs49S768=',
    ],
    [
      'tcp seed 1',
      {
        sourceAddress: v4('1.2.3.4'),
        destinationAddress: v4('5.6.7.8'),
        ipProtocol: 6,
        sourcePort: 1122,
        destinationPort: 3344,
        seed: 1,
      },
      '1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=',
    ],
    [
      'udp seed 1',
      {
        sourceAddress: v4('1.2.3.4'),
        destinationAddress: v4('5.6.7.8'),
        ipProtocol: 17,
        sourcePort: 1122,
        destinationPort: 3344,
        seed: 1,
      },
      '1:OShq+iKDAMVouh/4bMxB9Sz4amw=',
    ],
    [
      'icmp seed 1',
      {
        sourceAddress: v4('1.2.3.4'),
        destinationAddress: v4('5.6.7.8'),
        ipProtocol: 1,
        sourcePort: 0,
        destinationPort: 0,
        icmpType: 8,
        icmpCode: 0,
        seed: 1,
      },
      '1:9pr4ZGTICiuZoIh90RRYE2RyXpU=',
    ],
  ];
  for (const [name, input, expected] of cases) {
    it(name, () => {
      expect(communityIdV1(input)).toBe(expected);
      if (input.sourceAddress.length === 4) {
        expect(communityIdV1Ipv4(...ipv4Arguments(input))).toBe(expected);
      }
    });
  }
});

/**
 * The spec's hash input built independently and hashed by node:crypto, for inputs with ports (TCP, UDP, SCTP)
 * or none: checks the module's reused per-length input buffers never leak bytes between flows.
 */
function referenceId(input: CommunityIdInput): string {
  const hasPorts = input.ipProtocol === 6 || input.ipProtocol === 17 || input.ipProtocol === 132;
  let src = input.sourceAddress;
  let dst = input.destinationAddress;
  let srcPort = hasPorts ? input.sourcePort : -1;
  let dstPort = hasPorts ? input.destinationPort : -1;
  const order = Buffer.compare(Buffer.from(src), Buffer.from(dst));
  if (order > 0 || (order === 0 && srcPort > dstPort)) {
    [src, dst] = [dst, src];
    [srcPort, dstPort] = [dstPort, srcPort];
  }
  const seed = input.seed ?? 0;
  const parts = [Buffer.from([seed >>> 8, seed & 0xff]), Buffer.from(src), Buffer.from(dst)];
  parts.push(Buffer.from([input.ipProtocol, 0]));
  if (hasPorts) parts.push(Buffer.from([srcPort >>> 8, srcPort & 0xff, dstPort >>> 8, dstPort & 0xff]));
  return `1:${createHash('sha1').update(Buffer.concat(parts)).digest('base64')}`;
}

describe('Community ID v1 hashing', () => {
  const address = fc.oneof(
    fc.uint8Array({ minLength: 4, maxLength: 4 }),
    fc.uint8Array({ minLength: 16, maxLength: 16 }),
  );
  const input = fc.record({
    sourceAddress: address,
    destinationAddress: address,
    ipProtocol: fc.constantFrom(6, 17, 132, 0, 47, 50, 255),
    sourcePort: fc.integer({ min: 0, max: 65535 }),
    destinationPort: fc.integer({ min: 0, max: 65535 }),
    seed: fc.integer({ min: 0, max: 65535 }),
  });

  it('equals SHA-1 of the spec input for random flows', () => {
    fc.assert(
      fc.property(input, (flow) => {
        expect(communityIdV1(flow)).toBe(referenceId(flow));
      }),
      { numRuns: 2000 },
    );
  });

  it('hashes addresses of other lengths too', () => {
    const flow = {
      sourceAddress: new Uint8Array(40).fill(7),
      destinationAddress: new Uint8Array(40).fill(9),
      ipProtocol: 6,
      sourcePort: 1,
      destinationPort: 2,
    };
    expect(communityIdV1(flow)).toBe(referenceId(flow));
  });
});

describe('Community ID v1 of IPv4 flows from address values', () => {
  const address = fc.uint8Array({ minLength: 4, maxLength: 4 });
  const input = fc.record({
    sourceAddress: fc.oneof(address, fc.constant(new Uint8Array([10, 0, 0, 1]))),
    destinationAddress: fc.oneof(address, fc.constant(new Uint8Array([10, 0, 0, 1]))),
    ipProtocol: fc.constantFrom(1, 6, 17, 58, 132, 0, 47, 255),
    sourcePort: fc.oneof(fc.integer({ min: 0, max: 65535 }), fc.constant(80)),
    destinationPort: fc.oneof(fc.integer({ min: 0, max: 65535 }), fc.constant(80)),
    icmpType: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 8, 13, 14, 128, 135)),
    icmpCode: fc.integer({ min: 0, max: 255 }),
    seed: fc.integer({ min: 0, max: 65535 }),
  });

  it('equals the byte-array form for every protocol, port order, ICMP type and seed', () => {
    fc.assert(
      fc.property(input, (flow) => {
        expect(communityIdV1Ipv4(...ipv4Arguments(flow))).toBe(communityIdV1(flow));
      }),
      { numRuns: 3000 },
    );
  });
});
