import { describe, expect, it } from 'vitest';
import { decodeFrame } from '../../../functions/capture/decode/index.js';
import { DecodedPacket } from '../../../functions/capture/decoded-packet.js';
import type { ProtocolNames } from '../../../functions/capture/protocol-names.js';
import { loadProtocolNames } from '../../../functions/capture/protocol-names.js';
import {
  csvEscape,
  PACKET_CSV_COLUMNS,
  PACKET_CSV_HEADER,
  PacketCsvWriter,
  TCP_FLAGS_TEXT,
} from '../../../functions/records/packet-csv.js';
import {
  ETHERTYPE,
  ethernet,
  gre,
  IP_PROTO,
  ipv4,
  LINKTYPE,
  packet,
  toRawFrame,
  udp,
  vxlan,
} from '../../support/frame-builder.js';

const REQUIRED =
  'index,ts_us,frame_len,cap_len,link_type,eth_src,eth_dst,eth_type,eth_type_name,vlan_ids,ip_version,src_ip,dst_ip,ip_proto,ip_proto_name,ttl,ip_len,frag_offset,more_fragments,src_port,dst_port,service,tcp_flags,tcp_flags_str,tcp_seq,tcp_ack,tcp_window,l4_header_len,payload_len,icmp_type,icmp_code,tunnel'.split(
    ',',
  );

function rows(
  frames: readonly ReturnType<typeof toRawFrame>[],
  names: ProtocolNames = loadProtocolNames({ env: {} }),
): Record<string, string>[] {
  let text = '';
  const writer = new PacketCsvWriter(
    names,
    (chunk) => {
      text += chunk;
    },
    { chunkChars: 64 },
  );
  const decoded = new DecodedPacket();
  for (const frame of frames) {
    decodeFrame(frame, decoded);
    writer.writePacket(frame, decoded);
  }
  writer.end();
  const [header, ...lines] = text.trimEnd().split('\n');
  expect(`${header}\n`).toBe(PACKET_CSV_HEADER);
  return lines.map((line) => {
    const cells = line.split(',');
    expect(cells).toHaveLength(PACKET_CSV_COLUMNS.length);
    return Object.fromEntries(PACKET_CSV_COLUMNS.map((column, i) => [column, cells[i]!]));
  });
}

describe('packet CSV', () => {
  it('starts with exactly the contract columns, then extras', () => {
    expect(PACKET_CSV_COLUMNS.slice(0, REQUIRED.length)).toEqual(REQUIRED);
    expect(new Set(PACKET_CSV_COLUMNS).size).toBe(PACKET_CSV_COLUMNS.length);
  });

  it('writes a TCP/IPv4 row with names, flags and lengths', () => {
    const frame = toRawFrame(
      packet({
        src: '10.0.0.1',
        dst: '10.0.0.2',
        protocol: 'tcp',
        srcPort: 51000,
        dstPort: 443,
        flags: 'SA',
        seq: 7,
        ack: 9,
        payload: 5,
        srcMac: '02:00:00:00:00:01',
        vlanIds: [10, 20],
      }),
      { index: 3, tsSec: 1_700_000_000, tsNanos: 123_456_789, originalLength: 100 },
    );
    const [row] = rows([frame]);
    expect(row).toMatchObject({
      index: '3',
      ts_us: '1700000000123456',
      ts_ns: '1700000000123456789',
      frame_len: '100',
      cap_len: String(frame.capturedLength),
      link_type: '1',
      eth_src: '02:00:00:00:00:01',
      eth_type: '2048',
      eth_type_name: 'IPv4',
      vlan_ids: '10;20',
      ip_version: '4',
      src_ip: '10.0.0.1',
      dst_ip: '10.0.0.2',
      ip_proto: '6',
      ip_proto_name: 'TCP',
      ttl: '64',
      ip_len: '45',
      frag_offset: '0',
      more_fragments: '0',
      src_port: '51000',
      dst_port: '443',
      service: 'https',
      tcp_flags: '18',
      tcp_flags_str: 'SA',
      tcp_seq: '7',
      tcp_ack: '9',
      tcp_window: '65535',
      l4_header_len: '20',
      payload_len: '5',
      icmp_type: '',
      tunnel: '',
      ip_header_len: '20',
    });
  });

  it('leaves absent fields empty (ARP, unsupported link type) and names IPv6/ICMPv6', () => {
    const arpFrame = toRawFrame(
      ethernet(
        { etherType: ETHERTYPE.ARP },
        new Uint8Array(28).fill(0).map((_, i) => (i === 7 ? 1 : 0)),
      ),
      { index: 1 },
    );
    const unknown = toRawFrame(new Uint8Array(40), { index: 2, linkType: 147 });
    const v6 = toRawFrame(packet({ src: '2001:db8::1', dst: 'fe80::2', protocol: 'icmp', icmpType: 135 }), {
      index: 3,
    });
    const [arp, other, icmp6] = rows([arpFrame, unknown, v6]);
    expect(arp).toMatchObject({
      eth_type: '2054',
      eth_type_name: 'ARP',
      arp_opcode: '1',
      ip_version: '',
      src_ip: '',
      ttl: '',
      frag_offset: '',
      more_fragments: '',
      tcp_flags: '',
      tcp_flags_str: '',
    });
    expect(
      Object.entries(other!)
        .filter(([, v]) => v !== '')
        .map(([k]) => k),
    ).toEqual(['index', 'ts_us', 'frame_len', 'cap_len', 'link_type', 'ts_ns', 'interface_id']);
    expect(icmp6).toMatchObject({
      ip_version: '6',
      src_ip: '2001:db8::1',
      dst_ip: 'fe80::2',
      ip_proto_name: 'IPv6-ICMP',
      icmp_type: '135',
      icmp_code: '0',
      frag_offset: '',
      src_port: '',
    });
  });

  it('describes the innermost headers of tunnels and names the tunnel', () => {
    const inner = ipv4(
      { src: '192.168.0.1', dst: '192.168.0.2', protocol: IP_PROTO.UDP },
      udp({ srcPort: 5353, dstPort: 53 }, 4),
    );
    const gref = toRawFrame(
      ethernet(
        { etherType: ETHERTYPE.IPV4 },
        ipv4(
          { src: '1.1.1.1', dst: '2.2.2.2', protocol: IP_PROTO.GRE },
          gre({ protocol: ETHERTYPE.IPV4 }, inner),
        ),
      ),
    );
    const vx = toRawFrame(
      ethernet(
        { etherType: ETHERTYPE.IPV4 },
        ipv4(
          { src: '1.1.1.1', dst: '2.2.2.2', protocol: IP_PROTO.UDP },
          udp({ srcPort: 1, dstPort: 4789 }, vxlan(5, ethernet({ etherType: ETHERTYPE.IPV4 }, inner))),
        ),
      ),
    );
    const [g, v] = rows([gref, vx]);
    expect(g).toMatchObject({
      tunnel: 'gre',
      src_ip: '192.168.0.1',
      src_port: '5353',
      service: 'domain',
      payload_len: '4',
    });
    expect(v).toMatchObject({ tunnel: 'vxlan', src_ip: '192.168.0.1', dst_port: '53' });
  });

  it('quotes names that hold CSV metacharacters', () => {
    expect(csvEscape('plain')).toBe('plain');
    expect(csvEscape('a,b')).toBe('"a,b"');
    expect(csvEscape('say "hi"')).toBe('"say ""hi"""');
    const names: ProtocolNames = {
      directory: '',
      etherTypeName: () => 'Inter,net',
      ipProtocolName: () => 'T"CP',
      serviceName: () => '',
    };
    let text = '';
    const writer = new PacketCsvWriter(names, (chunk) => {
      text += chunk;
    });
    const decoded = new DecodedPacket();
    const frame = toRawFrame(packet({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 'tcp' }), {
      linkType: LINKTYPE.ETHERNET,
    });
    decodeFrame(frame, decoded);
    writer.writePacket(frame, decoded);
    writer.end();
    expect(text).toContain(',2048,"Inter,net",');
    expect(text).toContain(',6,"T""CP",');
  });

  it('has one flag string per combination, lowest bit first', () => {
    expect(TCP_FLAGS_TEXT[0x02]).toBe('S');
    expect(TCP_FLAGS_TEXT[0x12]).toBe('SA');
    expect(TCP_FLAGS_TEXT[0x18]).toBe('PA');
    expect(TCP_FLAGS_TEXT[0x11]).toBe('FA');
    expect(TCP_FLAGS_TEXT[0x1ff]).toBe('FSRPAUECN');
  });
});
