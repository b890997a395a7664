import { isIPv6 } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatIpv4,
  formatIpv6,
  formatMac,
  packetDestinationIp,
  packetSourceIp,
} from '../../../functions/capture/address-format.js';
import { DecodedPacket } from '../../../functions/capture/decoded-packet.js';

function ipv6Bytes(groups: readonly number[], prefix = 0): Uint8Array {
  const bytes = new Uint8Array(prefix + 16);
  groups.forEach((group, i) => {
    bytes[prefix + 2 * i] = group >> 8;
    bytes[prefix + 2 * i + 1] = group & 0xff;
  });
  return bytes;
}

/** Expands any valid IPv6 text (incl. "::" and a dotted-quad tail) to its 8 groups, to check round trips. */
function parseIpv6(text: string): number[] {
  let head = text;
  const tail: number[] = [];
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    tail.push((a << 8) | b, (c << 8) | d);
    head = text.slice(0, dotted.index).replace(/:$/, '') || '';
    if (text.slice(0, dotted.index).endsWith('::')) head = `${head}:`;
  }
  const [left = '', right] = head.split('::');
  const leftGroups = left === '' ? [] : left.split(':').map((g) => Number.parseInt(g, 16));
  const rightGroups =
    right === undefined || right === '' ? [] : right.split(':').map((g) => Number.parseInt(g, 16));
  const fill = 8 - tail.length - leftGroups.length - rightGroups.length;
  return [
    ...leftGroups,
    ...new Array<number>(right === undefined ? 0 : fill).fill(0),
    ...rightGroups,
    ...tail,
  ];
}

describe('formatIpv4', () => {
  it('prints dotted quads from an unsigned 32-bit value', () => {
    expect(formatIpv4(0xc0a80001)).toBe('192.168.0.1');
    expect(formatIpv4(0)).toBe('0.0.0.0');
    expect(formatIpv4(0xffffffff)).toBe('255.255.255.255');
    expect(formatIpv4(0x0a000102)).toBe('10.0.1.2');
  });
});

describe('formatMac', () => {
  it('prints lowercase colon-separated octets at an offset', () => {
    const bytes = Uint8Array.from([0xee, 0x00, 0x1b, 0x21, 0xaa, 0xbb, 0x0c, 0xff]);
    expect(formatMac(bytes, 1)).toBe('00:1b:21:aa:bb:0c');
    expect(formatMac(bytes, 2)).toBe('1b:21:aa:bb:0c:ff');
  });
});

describe('formatIpv6 (RFC 5952)', () => {
  const cases: [readonly number[], string][] = [
    [[0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], '2001:db8::1'],
    // §4.2.2: a single zero group is not compressed.
    [[0x2001, 0xdb8, 0, 1, 1, 1, 1, 1], '2001:db8:0:1:1:1:1:1'],
    // §4.2.3: the longest run wins; on a tie, the first.
    [[0x2001, 0, 0, 1, 0, 0, 0, 1], '2001:0:0:1::1'],
    [[0x2001, 0xdb8, 0, 0, 1, 0, 0, 1], '2001:db8::1:0:0:1'],
    // §4.1 leading zeros dropped, §4.3 lowercase.
    [[0x2001, 0x0db8, 0xabcd, 0x0012, 0, 0, 0, 0x00ef], '2001:db8:abcd:12::ef'],
    [[0, 0, 0, 0, 0, 0, 0, 0], '::'],
    [[0, 0, 0, 0, 0, 0, 0, 1], '::1'],
    [[1, 0, 0, 0, 0, 0, 0, 0], '1::'],
    [[0xfe80, 0, 0, 0, 0x0200, 0x5eff, 0xfe00, 0x5301], 'fe80::200:5eff:fe00:5301'],
    // §5 / RFC 4291 §2.5.5.2: IPv4-mapped addresses end in dotted quad.
    [[0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0280], '::ffff:192.0.2.128'],
    [[0, 0, 0, 0, 0, 0xffff, 0, 0], '::ffff:0.0.0.0'],
    // Deprecated IPv4-compatible (RFC 4291 §2.5.5.1), printed as glibc/tshark do.
    [[0, 0, 0, 0, 0, 0, 0x0a00, 0x0001], '::10.0.0.1'],
    // Only 7 leading zero groups: plain hex, like inet_ntop.
    [[0, 0, 0, 0, 0, 0, 0, 0x5800], '::5800'],
    // A run of exactly two zero groups at the end.
    [[1, 2, 3, 4, 5, 6, 0, 0], '1:2:3:4:5:6::'],
    [
      [0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff],
      'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    ],
  ];
  it.each(cases)('%j -> %s', (groups, text) => {
    expect(formatIpv6(ipv6Bytes(groups, 3), 3)).toBe(text);
  });

  it('always yields valid text that round-trips to the same 128 bits', () => {
    const group = fc.oneof(fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (groups) => {
        const text = formatIpv6(ipv6Bytes(groups), 0);
        expect(isIPv6(text)).toBe(true);
        expect(text).not.toMatch(/:::|[A-F]|(^|:)0[0-9a-f]/);
        expect(text.split('::').length).toBeLessThanOrEqual(2);
        expect(parseIpv6(text)).toEqual(groups);
      }),
      { numRuns: 500 },
    );
  });
});

describe('packetSourceIp / packetDestinationIp', () => {
  it('format the innermost IP addresses, or give empty strings without IP', () => {
    const packet = new DecodedPacket();
    packet.reset(new Uint8Array(64), 64, 1);
    expect(packetSourceIp(packet)).toBe('');
    expect(packetDestinationIp(packet)).toBe('');
    packet.ipVersion = 4;
    packet.srcIpv4 = 0x0a000001;
    packet.dstIpv4 = 0xc0a80101;
    expect(packetSourceIp(packet)).toBe('10.0.0.1');
    expect(packetDestinationIp(packet)).toBe('192.168.1.1');
    const data = new Uint8Array(64);
    data.set(ipv6Bytes([0x2001, 0xdb8, 0, 0, 0, 0, 0, 2]), 8);
    data.set(ipv6Bytes([0xfe80, 0, 0, 0, 0, 0, 0, 1]), 24);
    packet.reset(data, 64, 1);
    packet.ipVersion = 6;
    packet.srcIpv6Offset = 8;
    packet.dstIpv6Offset = 24;
    expect(packetSourceIp(packet)).toBe('2001:db8::2');
    expect(packetDestinationIp(packet)).toBe('fe80::1');
  });
});

describe('formatIpv4 text cache', () => {
  it('returns the right text for addresses that share cache buckets, in any order, repeatedly', () => {
    const reference = (address: number): string =>
      [address >>> 24, (address >>> 16) & 0xff, (address >>> 8) & 0xff, address & 0xff].join('.');
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 1, maxLength: 50 }),
        (addresses) => {
          // Twice through: the second pass reads whatever the first left in the cache (hits and evictions).
          for (const address of [...addresses, ...addresses.reverse()]) {
            expect(formatIpv4(address)).toBe(reference(address));
          }
        },
      ),
      { numRuns: 500 },
    );
    // 8192 consecutive addresses are more than the cache holds: every bucket is overwritten at least once.
    for (let round = 0; round < 2; round++) {
      for (let address = 0x0a000000; address < 0x0a002000; address++) {
        expect(formatIpv4(address)).toBe(reference(address));
      }
    }
    expect(formatIpv4(0xffffffff)).toBe('255.255.255.255');
    expect(formatIpv4(-1)).toBe('255.255.255.255');
    expect(formatIpv4(0)).toBe('0.0.0.0');
  });
});
