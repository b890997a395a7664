"""Label the flows of the traffic lab's captures from their ground truth.

For each `<scenario>.json` written by lab.sh, runs the project's own flow engine (`ccf flows`) on the
scenario's capture and labels every flow:
  * a flow between the scenario's attacker and victim (either direction) in an attack scenario gets the
    scenario's label and family;
  * everything else (benign scenarios, IPv6 neighbour discovery, ...) is BENIGN.
The dataset's "attempted" rule: an attack flow that carried no forward payload is marked attempted
(`attempted=1`), except for the scan and flood families whose flows carry no payload by nature
(CICIDS2017_improved labels those as the attack itself). Training treats attempted flows as benign,
as the dataset's authors do.

Flood scenarios make tens of thousands of near-identical flows; to keep training balanced and fast, at most
--max-attack-flows (default 2000) attack flows are kept per scenario, chosen deterministically (evenly spaced
in the engine's output order); benign flows are all kept. The `scenario_attack_flows` column records how many
attack flows the scenario had before the cap.

Usage: python models/training/lab/label_flows.py [--lab-output DIR] [--out FILE] [--max-attack-flows N]
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
NO_PAYLOAD_BY_NATURE = {"portscan", "dos"}


def run_flows(capture: Path, reuse: bool) -> list[dict[str, str]]:
    """Runs the project's flow engine on one capture and returns its rows. The engine's CSV is kept beside the
    capture (`<scenario>.flows.csv`) and reused while it is newer than the capture and the flow engine's code
    (with `reuse`, regardless of the engine's code: its hot paths change without changing its output)."""
    cached = capture.with_suffix(".flows.csv")
    engine_mtime = max(p.stat().st_mtime for p in (REPO / "functions" / "flows").rglob("*.ts") if p.name != "flow-context.ts")
    newer_than = capture.stat().st_mtime if reuse else max(capture.stat().st_mtime, engine_mtime)
    if cached.exists() and cached.stat().st_mtime > newer_than:
        with cached.open(newline="") as handle:
            return list(csv.DictReader(handle))
    command = ["node", "--import", "tsx", str(REPO / "functions/cli/main.ts"), "flows", str(capture), "-o", "-"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if result.returncode not in (0, 2):
        raise SystemExit(f"ccf flows failed on {capture}: {result.stderr.strip()}")
    cached.write_text(result.stdout)
    return list(csv.DictReader(result.stdout.splitlines()))


def add_context(captures: list[Path], rows_by_capture: list[list[dict[str, str]]]) -> None:
    """Adds the context columns (functions/flows/flow-context.ts, the code `ccf analyze` runs) to every row, computed
    over ALL flows of each capture in the engine's order, before any cap. One node process for every capture."""
    args: list[str] = []
    for capture in captures:
        args += [str(capture.with_suffix(".flows.csv")), str(capture.with_suffix(".context.csv"))]
    command = ["node", "--import", "tsx", str(REPO / "models/training/lab/flow-context-columns.ts"), *args]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"flow-context-columns failed: {result.stderr.strip()}")
    for capture, rows in zip(captures, rows_by_capture, strict=True):
        with capture.with_suffix(".context.csv").open(newline="") as handle:
            context = list(csv.DictReader(handle))
        if len(context) != len(rows):
            raise SystemExit(f"{capture}: {len(context)} context rows for {len(rows)} flows")
        for row, ctx in zip(rows, context, strict=True):
            row.update(ctx)


def label_rows(truth: dict[str, str], rows: list[dict[str, str]]) -> list[dict[str, str]]:
    pair = {truth["attacker"], truth["victim"]}
    labeled = []
    for row in rows:
        is_attack = truth["family"] != "benign" and {row["Src IP"], row["Dst IP"]} == pair
        fwd_payload = float(row.get("Total Length of Fwd Packet", "0") or 0)
        attempted = is_attack and fwd_payload == 0 and truth["family"] not in NO_PAYLOAD_BY_NATURE
        labeled.append(
            {
                **row,
                "scenario": truth["scenario"],
                "Label": truth["label"] if is_attack else "BENIGN",
                "family": truth["family"] if is_attack else "benign",
                "attempted": "1" if attempted else "0",
            }
        )
    return labeled


def cap_attack_rows(rows: list[dict[str, str]], limit: int) -> list[dict[str, str]]:
    """Keeps every benign row and at most `limit` attack rows, evenly spaced (deterministic)."""
    attack_idx = [i for i, row in enumerate(rows) if row["family"] != "benign"]
    total = len(attack_idx)
    keep = set(attack_idx)
    if total > limit:
        keep = {attack_idx[(k * total) // limit] for k in range(limit)}
    out = []
    for i, row in enumerate(rows):
        if row["family"] == "benign" or i in keep:
            out.append({**row, "scenario_attack_flows": str(total)})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab-output", type=Path, default=REPO / "lab-output")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--max-attack-flows", type=int, default=2000)
    parser.add_argument("--reuse-flows", action="store_true", help="reuse a cached <scenario>.flows.csv newer than its capture, even if the engine code changed")
    args = parser.parse_args()
    out_path = args.out or args.lab_output / "lab-flows-labeled.csv"
    truths = sorted(args.lab_output.glob("*.json"))
    if not truths:
        print(f"no ground-truth files in {args.lab_output}; run lab.sh first", file=sys.stderr)
        return 1
    all_rows: list[dict[str, str]] = []
    loaded = [json.loads(t.read_text()) for t in truths]
    captures = [args.lab_output / truth["capture"] for truth in loaded]
    flows = [run_flows(capture, args.reuse_flows) for capture in captures]
    add_context(captures, flows)
    for truth, capture_rows in zip(loaded, flows, strict=True):
        labeled = label_rows(truth, capture_rows)
        rows = cap_attack_rows(labeled, args.max_attack_flows)
        attacks = sum(1 for r in rows if r["family"] != "benign")
        print(f"{truth['scenario']}: {len(labeled)} flows, {attacks} attack kept", file=sys.stderr)
        all_rows.extend(rows)
    with out_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(all_rows[0].keys()))
        writer.writeheader()
        writer.writerows(all_rows)
    print(f"wrote {len(all_rows)} labeled flows to {out_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
