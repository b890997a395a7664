"""Distribution check: where do flows our engine extracts from lab traffic sit relative to the dataset's flows
of the same kind of attack?

For each pairing of a lab family with CICIDS2017_improved classes, prints the 10th/50th/90th percentiles of a
few defining features for both, so a reader can see whether our flows land in the dataset's ranges (same
feature semantics) or where they differ (different tools, rates, network). Writes Markdown to stdout.

Usage: python models/training/lab/compare_distributions.py [--lab lab-output/lab-flows-labeled.csv]
"""

from __future__ import annotations

import argparse
import csv
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SHARED = Path(os.environ.get("CCF_SHARED_DIR", REPO.parent / "shared"))
DATASET = SHARED / "datasets" / "cicids2017-improved-sample"
FEATURES = ["Flow Duration", "Total Fwd Packet", "Total Bwd packets", "Fwd Packet Length Mean", "Flow IAT Mean", "Fwd Seg Size Min"]
PAIRS = [
    ("Portscan (nmap SYN/connect/FIN/UDP)", "portscan", ["Portscan_2500.csv"]),
    ("SYN/ACK/UDP floods (hping3)", "dos", ["DDoS_2500.csv"]),
    ("HTTP floods (ab, curl)", "dos_http", ["DoS_Hulk_2500.csv", "DoS_GoldenEye_2500.csv"]),
    ("Slow DoS (slowhttptest)", "slow_dos", ["DoS_Slowloris_2500.csv", "DoS_Slowhttptest_1740.csv"]),
    ("SSH/FTP brute force (hydra)", "brute_force", ["SSH-Patator_2500.csv", "FTP-Patator_2500.csv"]),
    ("Benign", "benign", ["BENIGN_2500.csv"]),
]


def percentiles(values: list[float]) -> str:
    if not values:
        return "—"
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1)))]  # noqa: E731
    return " / ".join(f"{pick(q):.4g}" for q in (0.1, 0.5, 0.9))


def lab_rows(path: Path, family: str) -> list[dict[str, str]]:
    rows = []
    for row in csv.DictReader(path.open()):
        scenario = row["scenario"]
        if family == "dos_http":
            keep = row["family"] != "benign" and scenario.startswith("dos_http")
        elif family == "dos":
            keep = row["family"] == "dos" and not scenario.startswith("dos_http") and "icmp" not in scenario
        else:
            keep = row["family"] == family
        if keep:
            rows.append(row)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", type=Path, default=REPO / "lab-output" / "lab-flows-labeled.csv")
    args = parser.parse_args()
    print("| traffic | source | flows | " + " | ".join(f"{f} (p10 / p50 / p90)" for f in FEATURES) + " |")
    print("|---|---|---|" + "---|" * len(FEATURES))
    for title, family, files in PAIRS:
        ours = lab_rows(args.lab, family)
        theirs = [row for name in files for row in csv.DictReader((DATASET / name).open())]
        for source, rows in (("lab, our engine", ours), ("CICIDS2017_improved: " + ", ".join(f[:-4] for f in files), theirs)):
            cells = [percentiles([float(r[f]) for r in rows if r.get(f) not in (None, "")]) for f in FEATURES]
            print(f"| {title} | {source} | {len(rows)} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
