"""Per-packet reader in the style of CCF-Catcher's original scapy design (rdpcap + field extraction).

Streams with PcapReader (rdpcap would hold the whole capture in memory), dissects every packet as rdpcap
does, pulls the per-packet columns the original code used and writes them as CSV.
Prints one JSON line: {"packets": N, "seconds": S} (seconds exclude interpreter start-up).

usage: scapy_packets.py <capture.pcap> <out.csv> [max_packets]
"""

import csv
import json
import sys
import time

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.utils import PcapReader


def main() -> None:
    path, out_path = sys.argv[1], sys.argv[2]
    limit = int(sys.argv[3]) if len(sys.argv) > 3 else None
    started = time.perf_counter()
    packets = 0
    with open(out_path, "w", newline="") as out, PcapReader(path) as reader:
        writer = csv.writer(out)
        writer.writerow(
            ["index", "ts_us", "frame_len", "eth_src", "eth_dst", "src_ip", "dst_ip", "ip_proto",
             "ttl", "src_port", "dst_port", "tcp_flags", "payload_len", "icmp_type", "icmp_code"]
        )
        for pkt in reader:
            packets += 1
            row = [packets, int(pkt.time * 1_000_000), pkt.wirelen or len(pkt), "", "", "", "", "", "", "", "", "", "", "", ""]
            if Ether in pkt:
                row[3] = pkt[Ether].src
                row[4] = pkt[Ether].dst
            ip = pkt[IP] if IP in pkt else (pkt[IPv6] if IPv6 in pkt else None)
            if ip is not None:
                row[5] = ip.src
                row[6] = ip.dst
                row[7] = ip.proto if IP in pkt else ip.nh
                row[8] = ip.ttl if IP in pkt else ip.hlim
            if TCP in pkt:
                tcp = pkt[TCP]
                row[9], row[10], row[11] = tcp.sport, tcp.dport, int(tcp.flags)
                row[12] = len(tcp.payload)
            elif UDP in pkt:
                udp = pkt[UDP]
                row[9], row[10] = udp.sport, udp.dport
                row[12] = len(udp.payload)
            if ICMP in pkt:
                row[13], row[14] = pkt[ICMP].type, pkt[ICMP].code
            writer.writerow(row)
            if limit is not None and packets >= limit:
                break
    print(json.dumps({"packets": packets, "seconds": time.perf_counter() - started}))


if __name__ == "__main__":
    main()
