"""Single-packet training data from the labeled capture corpora in ../shared/corpora.

Malicious: every capture that corpora/MANIFEST.csv labels `attack:*` (StopDDoS one-way DDoS captures,
Stratosphere slips captures: malware, SSH brute force, ICMP scan, C2 beacons).
Benign (presumed): captures that are not attacks -- the Zeek and tcpdump protocol test traces, Ethernet
only, whose file names do not suggest an attack. They are protocol test traces, not "normal office traffic";
that is the main limit of this model (see MODEL_CARD.md).

Header fields are read with `tshark -T fields` (installed on the build machine) and cached in
models/training/out/ (git-ignored). Whole capture files go to train, validation or test, never rows of one
file to both.
"""

from __future__ import annotations

import csv
import hashlib
import os
import subprocess

import numpy as np
import pandas as pd

from .features import shared_dir

PACKET_FEATURES = ("len", "protocol", "source_port", "dest_port", "ttl", "tcp_flags", "tcp_window")
REQUIRED_PACKET_FEATURES = ("len", "source_port", "dest_port")
ABSENT = -1.0

ATTACK_WORDS = ("scan", "attack", "exploit", "flood", "malware", "malicious", "brute", "ddos", "dos-", "evil", "cve")
MAX_PACKETS_BENIGN_FILE = 300
MAX_PACKETS_ATTACK_FILE = 3000
BENIGN_FILES_PER_COLLECTION = 150

TSHARK_FIELDS = (
    "frame.len",
    "ip.proto",
    "ipv6.nxt",
    "ip.ttl",
    "ipv6.hlim",
    "tcp.srcport",
    "tcp.dstport",
    "udp.srcport",
    "udp.dstport",
    "tcp.flags",
    "tcp.window_size_value",
)


def _select_files() -> list[tuple[str, int]]:
    """(relative path, label) pairs, deterministic."""
    manifest = os.path.join(shared_dir(), "corpora", "MANIFEST.csv")
    attack: list[tuple[str, int]] = []
    benign_by_collection: dict[str, list[str]] = {"zeek": [], "tcpdump": []}
    with open(manifest, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            path, label = row["path"], row["label"]
            if label.startswith("attack:"):
                attack.append((path, 1))
                continue
            collection = row["collection"]
            if collection not in benign_by_collection or label != "unlabeled":
                continue
            if row["struct_error"] or row["linktypes"] != "1:EN10MB" or int(row["packets"] or 0) < 4:
                continue
            if any(word in path.lower() for word in ATTACK_WORDS):
                continue
            benign_by_collection[collection].append(path)
    benign: list[tuple[str, int]] = []
    for paths in benign_by_collection.values():
        paths.sort()
        step = max(1, len(paths) // BENIGN_FILES_PER_COLLECTION)
        benign.extend((p, 0) for p in paths[::step][:BENIGN_FILES_PER_COLLECTION])
    return sorted(attack) + sorted(benign)


def _num(value: str) -> float:
    if value == "":
        return ABSENT
    value = value.split(",")[0]  # tunnelled packets list one value per layer: take the outer one
    return float(int(value, 16)) if value.startswith("0x") else float(value)


def _extract(path: str, limit: int) -> list[list[float]]:
    command = ["tshark", "-n", "-r", path, "-c", str(limit), "-T", "fields", "-E", "separator=;"]
    for field in TSHARK_FIELDS:
        command += ["-e", field]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    rows: list[list[float]] = []
    for line in result.stdout.splitlines():
        parts = line.split(";")
        if len(parts) != len(TSHARK_FIELDS):
            continue
        f = dict(zip(TSHARK_FIELDS, parts, strict=True))
        try:
            proto = _num(f["ip.proto"]) if f["ip.proto"] else _num(f["ipv6.nxt"])
            ttl = _num(f["ip.ttl"]) if f["ip.ttl"] else _num(f["ipv6.hlim"])
            sport = _num(f["tcp.srcport"]) if f["tcp.srcport"] else _num(f["udp.srcport"])
            dport = _num(f["tcp.dstport"]) if f["tcp.dstport"] else _num(f["udp.dstport"])
            rows.append(
                [_num(f["frame.len"]), proto, sport, dport, ttl, _num(f["tcp.flags"]), _num(f["tcp.window_size_value"])]
            )
        except ValueError:
            continue
    return rows


def load_packets(cache_dir: str) -> pd.DataFrame:
    files = _select_files()
    key = hashlib.sha256(repr((files, TSHARK_FIELDS, MAX_PACKETS_BENIGN_FILE, MAX_PACKETS_ATTACK_FILE)).encode()).hexdigest()[:16]
    cache = os.path.join(cache_dir, f"packets-{key}.csv")
    if os.path.exists(cache):
        return pd.read_csv(cache)
    corpora = os.path.join(shared_dir(), "corpora")
    records = []
    for path, label in files:
        rows = _extract(os.path.join(corpora, path), MAX_PACKETS_ATTACK_FILE if label else MAX_PACKETS_BENIGN_FILE)
        for r in rows:
            records.append([*r, label, path])
    df = pd.DataFrame(records, columns=[*PACKET_FEATURES, "malicious", "capture"])
    os.makedirs(cache_dir, exist_ok=True)
    df.to_csv(cache, index=False)
    return df


def split_by_capture(df: pd.DataFrame) -> pd.Series:
    """'train' / 'val' / 'test' per row, by whole capture file: within each label, the sorted files are dealt
    round-robin (index % 5 == 3 -> val, == 4 -> test)."""
    split = pd.Series("train", index=df.index)
    for label in (0, 1):
        captures = sorted(df.loc[df["malicious"] == label, "capture"].unique())
        for i, capture in enumerate(captures):
            part = "val" if i % 5 == 3 else "test" if i % 5 == 4 else "train"
            split[df["capture"] == capture] = part
    return split


def mask_optional(x: np.ndarray) -> np.ndarray:
    """A copy of packet rows with every optional field absent (-1): the API contract's minimal record
    `{len, source_port, dest_port}` must score meaningfully, so the model is trained on both forms."""
    masked = x.copy()
    for i, name in enumerate(PACKET_FEATURES):
        if name not in REQUIRED_PACKET_FEATURES:
            masked[:, i] = ABSENT
    return masked
