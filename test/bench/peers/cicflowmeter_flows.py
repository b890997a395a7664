"""The PyPI `cicflowmeter` as a flow-feature peer, run exactly as its `cicflowmeter -f <pcap> -c <csv>`
command runs (same sniffer, BPF filter, periodic collection and final flush).

Prints one JSON line: {"packets": N, "flows": F, "seconds": S}; packets are the TCP/UDP packets it metered.

usage: cicflowmeter_flows.py <capture.pcap> <out.csv>
"""

import json
import sys
import time

from cicflowmeter.sniffer import create_sniffer


def main() -> None:
    path, out_path = sys.argv[1], sys.argv[2]
    started = time.perf_counter()
    sniffer, session = create_sniffer(path, None, "csv", out_path)
    sniffer.start()
    sniffer.join()
    if hasattr(session, "_gc_stop"):
        session._gc_stop.set()
        session._gc_thread.join(timeout=2.0)
    session.flush_flows()
    seconds = time.perf_counter() - started
    packets = session.packets_count
    with open(out_path) as csv_file:
        flows = max(sum(1 for _ in csv_file) - 1, 0)
    print(json.dumps({"packets": packets, "flows": flows, "seconds": seconds}))


if __name__ == "__main__":
    main()
