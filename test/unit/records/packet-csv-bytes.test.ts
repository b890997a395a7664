/**
 * PacketCsvWriter writes rows as bytes into a reused buffer; formatPacketRow builds the same row as a string.
 * They must agree byte for byte on every kind of row: large numbers, zero seconds, IPv6 forms, quoted and
 * non-ASCII names, VLAN lists, absent cells.
 */
import { describe, expect, it } from 'vitest';
import { decodeFrame } from '../../../functions/capture/decode/index.js';
import { DecodedPacket } from '../../../functions/capture/decoded-packet.js';
import type { RawFrame } from '../../../functions/capture/frame.js';
import { loadProtocolNames, type ProtocolNames } from '../../../functions/capture/protocol-names.js';
import {
  formatPacketRow,
  PACKET_CSV_HEADER,
  PacketCsvWriter,
  packetNameCells,
} from '../../../functions/records/packet-csv.js';
import { LINKTYPE, packet, toRawFrame } from '../../support/frame-builder.js';

function frames(): RawFrame[] {
  const list: RawFrame[] = [];
  const addresses: [string, string][] = [
    ['10.0.0.1', '192.168.255.254'],
    ['0.0.0.0', '255.255.255.255'],
    ['2001:db8::1', 'fe80::a:0:0:1'],
    ['::', '::1'],
    ['::ffff:10.1.2.3', '::10.0.0.9'],
    ['1:0:0:1:0:0:0:1', '1:2:3:4:5:6:7:8'],
    ['abcd:ef01:2345:6789:abcd:ef01:2345:6789', '0:0:1::'],
  ];
  const protocols = ['tcp', 'udp', 'icmp', 'sctp'] as const;
  let index = 1;
  for (const [src, dst] of addresses) {
    for (const protocol of protocols) {
      list.push(
        toRawFrame(
          packet({ src, dst, protocol, ttl: 255, vlanIds: index % 3 === 0 ? [5, 4094] : undefined }),
          {
            index,
            tsSec: index % 5 === 0 ? 0 : 4_294_967_295 - index,
            tsNanos: (index * 7_654_321) % 1_000_000_000,
            interfaceId: index % 4 === 0 ? 4_294_967_295 : index % 3,
            originalLength: index % 6 === 0 ? 4_000_000_000 : undefined,
          },
        ),
      );
      index++;
    }
  }
  list.push(toRawFrame(new Uint8Array([1, 2, 3]), { index: 2_147_483_648, linkType: LINKTYPE.ETHERNET }));
  list.push(toRawFrame(new Uint8Array(40), { index: 9_007_199_254, linkType: 147 }));
  return list;
}

function compare(names: ProtocolNames, chunkChars: number): void {
  let text = '';
  const writer = new PacketCsvWriter(
    names,
    (chunk) => {
      text += chunk;
    },
    { chunkChars },
  );
  const cells = packetNameCells(names);
  const decoded = new DecodedPacket();
  let expected = PACKET_CSV_HEADER;
  for (const frame of frames()) {
    decodeFrame(frame, decoded);
    expected += `${formatPacketRow(frame, decoded, cells)}\n`;
    writer.writePacket(frame, decoded);
  }
  writer.end();
  expect(text).toBe(expected);

  // The same rows handed on as UTF-8 bytes (`onBytes`): each chunk a copy that later rows do not overwrite.
  const chunks: Uint8Array[] = [];
  const bytesWriter = new PacketCsvWriter(
    names,
    () => {
      throw new Error('the string sink must not be used when onBytes is given');
    },
    { chunkChars, onBytes: (chunk) => chunks.push(chunk) },
  );
  for (const frame of frames()) {
    decodeFrame(frame, decoded);
    bytesWriter.writePacket(frame, decoded);
  }
  bytesWriter.end();
  expect(Buffer.concat(chunks).toString('utf8')).toBe(expected);
}

describe('PacketCsvWriter bytes', () => {
  it('matches formatPacketRow with the shipped protocol names, any chunk size', () => {
    const names = loadProtocolNames({ env: {} });
    compare(names, 1);
    compare(names, 100);
    compare(names, 1 << 20);
  });

  it('matches formatPacketRow with quoted and non-ASCII names', () => {
    const names: ProtocolNames = {
      directory: '',
      etherTypeName: (n) => (n === 0x0800 ? 'Inter,net' : 'IPv6 «six»'),
      ipProtocolName: (n) => (n === 6 ? 'T"CP' : `proto ${n} ünïcode`),
      serviceName: (_protocol, port) => (port < 1024 ? 'x'.repeat(5000) : ''),
    };
    compare(names, 64);
  });
});
