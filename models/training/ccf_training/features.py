"""Feature definitions shared by every flow model, and the one numeric policy that the TypeScript
scorer (functions/inference/feature-vector.ts) mirrors exactly.

Numeric policy (both sides, per value, in this order):
  1. a value that is not a finite number (NaN, +Inf, -Inf, missing cell) becomes 0 -- the same rule the
     `cic-fork` flow engine applies to zero-duration rates and empty statistics;
  2. the value is clamped to the float32 range [-FLOAT32_MAX, FLOAT32_MAX];
  3. it is rounded to float32 (ONNX tree ensembles compare float32 inputs).
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

FEATURE_SET = "cic-fork"
FLOAT32_MAX = float(np.finfo(np.float32).max)

# Identifiers that describe *where* a flow was seen, not *how* it behaves: they do not carry over
# from the 2017 testbed to a user's network, so the models never see them.
#   Flow ID, Src IP, Dst IP: testbed addresses (the attacker was always 172.16.0.1 / 205.174.165.73).
#   Src Port: an ephemeral port chosen by the client OS.
#   Timestamp: the day of the week each attack was run.
# Dst Port is kept: the service attacked is a real, transferable property of a flow.
IDENTIFIER_COLUMNS = ("id", "Flow ID", "Src IP", "Src Port", "Dst IP", "Timestamp")
LABEL_COLUMNS = ("Label", "Attempted Category")

# Original CICIDS2017 labels -> the families the classifier predicts. Labels mapped to None are too rare
# in the sample (Heartbleed 11 rows, Infiltration 36) to learn a class from; they are kept aside as
# "families never seen in training" for the anomaly detector's evaluation.
FAMILY_OF_LABEL: dict[str, str | None] = {
    "BENIGN": "benign",
    "Portscan": "portscan",
    "Infiltration - Portscan": "portscan",
    "DoS Hulk": "dos_flood",
    "DoS GoldenEye": "dos_flood",
    "DoS Slowloris": "slow_dos",
    "DoS Slowhttptest": "slow_dos",
    "DDoS": "ddos",
    "FTP-Patator": "brute_force",
    "SSH-Patator": "brute_force",
    "Web Attack - Brute Force": "web_attack",
    "Web Attack - XSS": "web_attack",
    "Web Attack - SQL Injection": "web_attack",
    "Botnet": "botnet",
    "Heartbleed": None,
    "Infiltration": None,
}
# Context ("host behaviour") columns: properties of the flows around a flow in the same capture, computed by
# functions/flows/flow-context.ts (the one implementation; training gets them from
# models/training/lab/flow-context-columns.ts over each lab capture's `ccf flows` output). Same names and order.
CONTEXT_COLUMNS = (
    "ctx_src_flows",
    "ctx_src_dst_ips",
    "ctx_pair_flows",
    "ctx_pair_dst_ports",
    "ctx_pair_unanswered_share",
    "ctx_pair_payload_share",
    "ctx_svc_flows",
    "ctx_svc_src_ips",
    "ctx_pair_flows_1s",
    "ctx_pair_port_share",
    "ctx_pair_svc_share",
    "ctx_pair_open_estimate",
    "ctx_pair_same_shape_share",
    "ctx_pair_ended_1s",
)
CONTEXT_WINDOW_S = 10.0  # DEFAULT_CONTEXT_WINDOW_S in flow-context.ts
# Value of every context column for a flow without its capture: CICIDS sample rows (no captures behind them) and
# lone records (POST /api/predict). The scorer writes it for absent columns (manifest absent_value). A sentinel
# rather than NaN: the numeric policy below maps NaN to 0, and "0 flows around it" is not "unknown".
CONTEXT_ABSENT = -1.0

CLASSES = ("benign", "botnet", "brute_force", "ddos", "dos_flood", "portscan", "slow_dos", "web_attack")


def shared_dir() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    repo_root = os.path.abspath(os.path.join(here, "..", "..", ".."))
    return os.environ.get("CCF_SHARED_DIR") or os.path.join(repo_root, "..", "shared")


def dataset_dir() -> str:
    return os.path.join(shared_dir(), "datasets", "cicids2017-improved-sample")


def header_columns() -> list[str]:
    with open(os.path.join(dataset_dir(), "data_header_reference.csv"), encoding="utf-8") as f:
        return f.readline().strip().split(",")


def flow_feature_names() -> list[str]:
    """The model inputs, in order: every CIC column of the header except identifiers and labels."""
    return [c for c in header_columns() if c not in IDENTIFIER_COLUMNS and c not in LABEL_COLUMNS]


def sanitize(values: np.ndarray) -> np.ndarray:
    """The numeric policy above, vectorised. Input any float array; output float32."""
    x = np.asarray(values, dtype=np.float64)
    x = np.where(np.isfinite(x), x, 0.0)
    x = np.clip(x, -FLOAT32_MAX, FLOAT32_MAX)
    return x.astype(np.float32)


@dataclass(frozen=True)
class FlowData:
    frame: pd.DataFrame  # all rows, with columns: features + Label + family + source_file
    features: list[str]


def load_flows() -> FlowData:
    files = sorted(
        f for f in glob.glob(os.path.join(dataset_dir(), "*.csv")) if not f.endswith("data_header_reference.csv")
    )
    if not files:
        raise SystemExit(f"no dataset CSVs under {dataset_dir()} (set CCF_SHARED_DIR)")
    frames = []
    for path in files:
        part = pd.read_csv(path, low_memory=False)
        part["source_file"] = os.path.basename(path)
        frames.append(part)
    df = pd.concat(frames, ignore_index=True)
    features = flow_feature_names()
    for c in features:
        df[c] = pd.to_numeric(df[c], errors="coerce")
    # The dataset's rule: an attack flow that carried no forward payload is only an *attempted* attack
    # (`Attempted Category` != -1) and the authors train on it as benign. (In this sample every row has -1,
    # so the rule is applied but changes nothing; it will matter on the full dataset.)
    attempted = pd.to_numeric(df["Attempted Category"], errors="coerce").fillna(-1) != -1
    df["family"] = df["Label"].map(FAMILY_OF_LABEL)
    df.loc[attempted & df["family"].notna(), "family"] = "benign"
    df["attempted"] = attempted
    unknown = sorted(set(df["Label"]) - set(FAMILY_OF_LABEL))
    if unknown:
        raise SystemExit(f"unmapped labels in dataset: {unknown}")
    return FlowData(frame=df, features=features)
