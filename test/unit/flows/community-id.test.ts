import { describe, expect, it } from 'vitest';
import { communityIdV1 } from '../../../functions/flows/community-id.js';

const v4 = (text: string): Uint8Array => new Uint8Array(text.split('.').map(Number));
const v6 = (hex: string): Uint8Array => new Uint8Array(hex.match(/../g)!.map((b) => Number.parseInt(b, 16)));
const A6 = v6('fe80000102030405060708090a0b0c0d');
const B6 = v6('fe80101112131415161718191a1b1c1d');

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
    });
  }
});
