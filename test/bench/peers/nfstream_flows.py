"""NFStream as a flow-feature peer: statistical features on, one meter, no L7 dissection (CCF-Catcher does none).

Prints one JSON line: {"packets": N, "flows": F, "seconds": S}; packets are those NFStream put into flows.

usage: nfstream_flows.py <capture.pcap>
"""

import json
import sys
import time

from nfstream import NFStreamer


def main() -> None:
    path = sys.argv[1]
    started = time.perf_counter()
    streamer = NFStreamer(
        source=path,
        statistical_analysis=True,
        n_meters=1,
        n_dissections=0,
        splt_analysis=0,
        idle_timeout=120,
        active_timeout=120,
    )
    flows = 0
    packets = 0
    for flow in streamer:
        flows += 1
        packets += flow.bidirectional_packets
    print(json.dumps({"packets": packets, "flows": flows, "seconds": time.perf_counter() - started}))


if __name__ == "__main__":
    main()
