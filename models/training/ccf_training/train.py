"""Rebuild every CCF-Catcher model, its manifest entry, the evaluation report and the test golden file.

    models/training/train.sh            (creates the venv from requirements.txt, then runs this module)

Deterministic: fixed seeds, single-threaded LightGBM (deterministic=True), sorted inputs. Writes
models/*.onnx, models/manifest.json, models/EVALUATION.md, test/fixtures/model-golden.json.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support, roc_auc_score

from .exporting import OnnxModel, isolation_forest_to_onnx, lightgbm_to_onnx, signed_log1p
from .features import CLASSES, FAMILY_OF_LABEL, FEATURE_SET, load_flows, sanitize
from .packets import PACKET_FEATURES, REQUIRED_PACKET_FEATURES, load_packets, mask_optional, split_by_capture

SEED = 20170707
BUNDLE_VERSION = "1.0.0"
TARGET_BENIGN_FPR = 0.001
PACKET_TARGET_FPR = 0.01
THRESHOLD_GRID = np.round(np.arange(0.5, 0.99951, 0.0005), 4)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
MODELS_DIR = os.path.join(REPO, "models")
OUT_DIR = os.path.join(REPO, "models", "training", "out")
GOLDEN_PATH = os.path.join(REPO, "test", "fixtures", "model-golden.json")


def log(message: str) -> None:
    print(f"[train] {message}", file=sys.stderr, flush=True)


def sha256(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def r(x: float, digits: int = 4) -> float:
    return float(round(float(x), digits))


# ---------------------------------------------------------------------------------------------- splits


def stratified_split(labels: pd.Series, seed: int) -> pd.Series:
    """60/20/20 train/val/test per original label, rows shuffled with a fixed seed."""
    rng = np.random.default_rng(seed)
    split = pd.Series("train", index=labels.index)
    for label in sorted(labels.unique()):
        idx = labels.index[labels == label].to_numpy()
        idx = idx[rng.permutation(len(idx))]
        n_val = int(round(len(idx) * 0.2))
        n_test = int(round(len(idx) * 0.2))
        split[idx[:n_test]] = "test"
        split[idx[n_test : n_test + n_val]] = "val"
    return split


def temporal_split(frame: pd.DataFrame) -> pd.Series:
    """Per original label: earliest 60% of flows (by Timestamp) train, next 20% val, latest 20% test."""
    split = pd.Series("train", index=frame.index)
    ts = pd.to_datetime(frame["Timestamp"], errors="coerce")
    for label in sorted(frame["Label"].unique()):
        idx = frame.index[frame["Label"] == label]
        order = idx[np.argsort(ts[idx].to_numpy(), kind="stable")]
        n = len(order)
        split[order[int(n * 0.6) : int(n * 0.8)]] = "val"
        split[order[int(n * 0.8) :]] = "test"
    return split


# ---------------------------------------------------------------------------------------------- models


def classifier(n_estimators: int = 20) -> lgb.LGBMClassifier:
    return lgb.LGBMClassifier(
        n_estimators=n_estimators,
        learning_rate=0.2,
        num_leaves=15,
        max_depth=6,
        min_child_samples=5,
        class_weight="balanced",
        random_state=SEED,
        deterministic=True,
        force_col_wise=True,
        n_jobs=1,
        verbose=-1,
    )


def pick_threshold(benign_scores: np.ndarray, grid: np.ndarray, target_fpr: float) -> tuple[float, bool]:
    """Smallest grid threshold t with (benign_scores >= t).mean() <= target_fpr. When no grid value reaches
    the target (benign flows the model is certain are attacks), the smallest t with the fewest benign
    false positives the grid allows, and False."""
    allowed = math.floor(target_fpr * len(benign_scores))
    counts = np.array([int((benign_scores >= t).sum()) for t in grid])
    goal = max(allowed, int(counts.min()))
    return float(grid[int(np.argmax(counts <= goal))]), int(counts.min()) <= allowed


def anomaly_threshold(benign_scores: np.ndarray, target_fpr: float) -> float:
    """Smallest float32 t with at most floor(target_fpr * n) validation benign scores >= t."""
    allowed = math.floor(target_fpr * len(benign_scores))
    ordered = np.sort(benign_scores.astype(np.float32))[::-1]
    return float(np.nextafter(ordered[allowed], np.float32(np.inf), dtype=np.float32))


def combine(
    probabilities: np.ndarray, anomaly: np.ndarray, t_cls: float, t_anom: float
) -> tuple[list[str], np.ndarray, list[str], list[str]]:
    """The combination policy (mirrored by functions/inference/combine-verdict.ts):
    1. p_mal = 1 - P(benign). If p_mal >= t_cls: malicious, label = most probable attack class,
       decided_by flow-classifier.
    2. else if anomaly_score >= t_anom: malicious, label 'anomaly', decided_by flow-anomaly.
    3. else benign, label 'benign', decided_by flow-classifier.
    """
    benign_index = CLASSES.index("benign")
    p_mal = 1.0 - probabilities[:, benign_index].astype(np.float64)
    attack_probs = probabilities.copy()
    attack_probs[:, benign_index] = -1.0
    attack_label = [CLASSES[i] for i in np.argmax(attack_probs, axis=1)]
    labels, verdicts, decided = [], [], []
    for i in range(len(p_mal)):
        if p_mal[i] >= t_cls:
            labels.append(attack_label[i]), verdicts.append("malicious"), decided.append("flow-classifier")
        elif anomaly[i] >= t_anom:
            labels.append("anomaly"), verdicts.append("malicious"), decided.append("flow-anomaly")
        else:
            labels.append("benign"), verdicts.append("benign"), decided.append("flow-classifier")
    return labels, p_mal, verdicts, decided


def class_report(y_true: list[str], y_pred: list[str], classes: list[str]) -> dict[str, Any]:
    p, rc, f, s = precision_recall_fscore_support(y_true, y_pred, labels=classes, zero_division=0)
    return {
        "per_class": {
            c: {"precision": r(p[i]), "recall": r(rc[i]), "f1": r(f[i]), "support": int(s[i])}
            for i, c in enumerate(classes)
        },
        "macro_f1": r(f1_score(y_true, y_pred, labels=classes, average="macro", zero_division=0)),
        "confusion_matrix": {"labels": classes, "rows_true_cols_pred": confusion_matrix(y_true, y_pred, labels=classes).tolist()},
    }


# ---------------------------------------------------------------------------------------------- flows


def train_flow_models() -> dict[str, Any]:
    data = load_flows()
    df, features = data.frame, data.features
    X = sanitize(df[features].to_numpy(dtype=np.float64))
    known = df["family"].notna().to_numpy()
    y = np.array([CLASSES.index(f) if isinstance(f, str) else -1 for f in df["family"]])
    split = stratified_split(df["Label"], SEED).to_numpy()
    tr, va, te = (split == "train") & known, (split == "val") & known, (split == "test") & known
    unseen = ~known
    log(f"flows: {len(df)} rows, {len(features)} features; train {tr.sum()} val {va.sum()} test {te.sum()} unseen {unseen.sum()}")

    # (a) classifier
    clf = classifier().fit(X[tr], y[tr])
    clf_blob = lightgbm_to_onnx(clf, len(features), "CCF-Catcher flow classifier (LightGBM, CICIDS2017_improved sample)")
    clf_onnx = OnnxModel(clf_blob)
    probs = clf_onnx.run("probabilities", X)
    benign_col = CLASSES.index("benign")
    p_mal = 1.0 - probs[:, benign_col]
    t_cls, t_cls_met = pick_threshold(p_mal[va & (y == benign_col)], THRESHOLD_GRID, TARGET_BENIGN_FPR)
    log(f"classifier threshold {t_cls} (target met: {t_cls_met})")

    # (b) anomaly detector: benign training flows only
    benign_tr = tr & (y == benign_col)
    iso = IsolationForest(n_estimators=32, max_samples=256, contamination="auto", random_state=SEED, n_jobs=1)
    iso.fit(signed_log1p(X[benign_tr]))
    iso_blob = isolation_forest_to_onnx(iso, len(features), "CCF-Catcher flow anomaly detector (IsolationForest on benign flows)")
    iso_onnx = OnnxModel(iso_blob)
    anomaly = iso_onnx.run("anomaly_score", X)[:, 0]
    check = -iso.decision_function(signed_log1p(X[:200]))
    if not np.allclose(check, anomaly[:200], atol=1e-4):
        raise SystemExit("anomaly ONNX graph disagrees with sklearn decision_function")
    t_anom = anomaly_threshold(anomaly[va & (y == benign_col)], TARGET_BENIGN_FPR)
    log(f"anomaly threshold {t_anom}")

    # evaluation on the held-out test rows
    names = [CLASSES[i] for i in y[te]]
    pred_argmax = [CLASSES[i] for i in np.argmax(probs[te], axis=1)]
    clf_metrics = class_report(names, pred_argmax, list(CLASSES))
    labels, pm, verdicts, decided = combine(probs, anomaly, t_cls, t_anom)
    labels_a, verdicts_a = np.array(labels), np.array(verdicts)
    test_benign = te & (y == benign_col)
    val_benign = va & (y == benign_col)
    combined_family = {}
    for c in CLASSES[1:]:
        rows = te & (y == CLASSES.index(c))
        combined_family[c] = {
            "detected": r((verdicts_a[rows] == "malicious").mean()),
            "label_correct": r((labels_a[rows] == c).mean()),
            "n": int(rows.sum()),
        }
    combined_labels = [lab if lab != "anomaly" else "anomaly" for lab in labels_a[te]]
    combined = {
        "benign_fpr_test": r((verdicts_a[test_benign] == "malicious").mean(), 5),
        "benign_fp_test": int((verdicts_a[test_benign] == "malicious").sum()),
        "benign_n_test": int(test_benign.sum()),
        "benign_fpr_val": r((verdicts_a[val_benign] == "malicious").mean(), 5),
        "attack_detection_test": r((verdicts_a[te & (y != benign_col)] == "malicious").mean()),
        "per_family": combined_family,
        "label_report": class_report(names, combined_labels, list(CLASSES)),
        "decided_by_anomaly_test": int(((np.array(decided) == "flow-anomaly") & te).sum()),
    }
    at_fpr = {}
    for fpr in (0.01, 0.05):
        t = anomaly_threshold(anomaly[val_benign], fpr)
        at_fpr[str(fpr)] = {
            "threshold": t,
            "benign_fpr_test": r((anomaly[test_benign] >= t).mean(), 5),
            "attack_detection_test": r((anomaly[te & (y != benign_col)] >= t).mean()),
        }
    anomaly_metrics = {
        "at_looser_validation_fpr": at_fpr,
        "benign_fpr_val": r((anomaly[val_benign] >= t_anom).mean(), 5),
        "benign_fpr_test": r((anomaly[test_benign] >= t_anom).mean(), 5),
        "roc_auc_test_benign_vs_attack": r(roc_auc_score((y[te] != benign_col).astype(int), anomaly[te])),
        "detection_by_family_test": {
            c: r((anomaly[te & (y == CLASSES.index(c))] >= t_anom).mean()) for c in CLASSES[1:]
        },
        "detection_unseen_labels_all_rows": {
            label: {"detected": r((anomaly[(df["Label"] == label).to_numpy()] >= t_anom).mean()), "n": int((df["Label"] == label).sum())}
            for label in sorted(lab for lab, fam in FAMILY_OF_LABEL.items() if fam is None)
        },
    }

    # leave-one-family-out: retrain the classifier without family F; the anomaly detector never saw any attack
    lofo = {}
    for c in CLASSES[1:]:
        ci = CLASSES.index(c)
        keep = tr & (y != ci)
        classes_kept = sorted(set(y[keep]))
        model = classifier().fit(X[keep], np.searchsorted(classes_kept, y[keep]))
        pr = model.predict_proba(X)
        p_mal_f = 1.0 - pr[:, classes_kept.index(benign_col)]
        t_f, _ = pick_threshold(p_mal_f[va & (y == benign_col)], THRESHOLD_GRID, TARGET_BENIGN_FPR)
        rows = y == ci  # every row of F: the LOFO classifier and the anomaly detector saw none of them
        by_clf = p_mal_f[rows] >= t_f
        by_anom = anomaly[rows] >= t_anom
        lofo[c] = {
            "n": int(rows.sum()),
            "classifier_without_family": r(by_clf.mean()),
            "anomaly_detector": r(by_anom.mean()),
            "combined": r((by_clf | by_anom).mean()),
            "classifier_threshold": float(t_f),
        }
        log(f"leave-out {c}: classifier {lofo[c]['classifier_without_family']} anomaly {lofo[c]['anomaly_detector']} combined {lofo[c]['combined']}")

    # robustness check: split by time within each label instead of random rows
    tsplit = temporal_split(df).to_numpy()
    ttr, tte = (tsplit == "train") & known, (tsplit == "test") & known
    tmodel = classifier().fit(X[ttr], y[ttr])
    tpred = [CLASSES[i] for i in tmodel.predict(X[tte])]
    temporal = class_report([CLASSES[i] for i in y[tte]], tpred, list(CLASSES))

    golden = flow_golden(df, features, X, y, split, probs, anomaly, t_cls, t_anom, clf_onnx, iso_onnx)

    split_counts = {
        s: {c: int(((split == s) & (y == CLASSES.index(c))).sum()) for c in CLASSES} for s in ("train", "val", "test")
    }
    training_data = {
        "dataset": "CICIDS2017_improved (Engelen et al. WTMC 2021 / Liu et al. CNS 2022), random per-class sample of 25,127 flows in ../shared/datasets/cicids2017-improved-sample",
        "families": {c: sorted(lab for lab, fam in FAMILY_OF_LABEL.items() if fam == c) for c in CLASSES},
        "not_trained_labels": sorted(lab for lab, fam in FAMILY_OF_LABEL.items() if fam is None),
        "attempted_rule": "rows with Attempted Category != -1 are benign (none in this sample)",
        "split": "stratified by original label, 60/20/20 train/val/test, random rows (seed %d); the sample has no capture ids, so rows of one attack run fall on both sides: an optimistic estimate" % SEED,
        "split_counts": split_counts,
        "seed": SEED,
    }
    return {
        "features": features,
        "classifier": {"blob": clf_blob, "threshold": t_cls, "threshold_target_met": t_cls_met, "metrics": clf_metrics, "temporal": temporal},
        "anomaly": {"blob": iso_blob, "threshold": t_anom, "metrics": anomaly_metrics},
        "combined": combined,
        "lofo": lofo,
        "training_data": training_data,
        "golden": golden,
    }


def encode_number(v: float) -> float | str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return float(v)


def flow_golden(df, features, X, y, split, probs, anomaly, t_cls, t_anom, clf_onnx, iso_onnx) -> dict[str, Any]:
    """Expected outputs for (a) dataset rows named by file + id (the data stays in ../shared) and
    (b) a few synthetic rows (class medians, rounded, plus NaN/Inf/huge values) stored in full."""
    dataset_rows = []
    for label in sorted(df["Label"].unique()):
        idx = df.index[(df["Label"] == label) & (split == "test")][:2]
        for i in idx:
            labs, pm, verd, dec = combine(probs[i : i + 1], anomaly[i : i + 1], t_cls, t_anom)
            dataset_rows.append(
                {
                    "file": df.at[i, "source_file"],
                    "id": str(df.at[i, "id"]),
                    "probabilities": [float(p) for p in probs[i]],
                    "anomaly_score": float(anomaly[i]),
                    "label": labs[0],
                    "verdict": verd[0],
                    "decided_by": dec[0],
                }
            )
    synthetic_raw = []
    for c in CLASSES:
        rows = (y == CLASSES.index(c)) & (split == "test")
        med = np.round(np.median(df.loc[rows, features].to_numpy(dtype=np.float64), axis=0), 3)
        synthetic_raw.append((f"median of {c} test flows", med))
    weird = synthetic_raw[0][1].copy()
    weird[features.index("Flow Bytes/s")] = np.inf
    weird[features.index("Flow Packets/s")] = -np.inf
    weird[features.index("Flow IAT Std")] = np.nan
    weird[features.index("Flow Duration")] = 1e300
    synthetic_raw.append(("benign median with Inf, -Inf, NaN and 1e300", weird))
    synthetic_raw.append(("all zeros", np.zeros(len(features))))
    synthetic = []
    for name, raw in synthetic_raw:
        x = sanitize(raw[None, :])
        p = clf_onnx.run("probabilities", x)
        a = iso_onnx.run("anomaly_score", x)[:, 0]
        labs, pm, verd, dec = combine(p, a, t_cls, t_anom)
        synthetic.append(
            {
                "name": name,
                "record": {f: encode_number(v) for f, v in zip(features, raw.tolist(), strict=True)},
                "probabilities": [float(v) for v in p[0]],
                "anomaly_score": float(a[0]),
                "label": labs[0],
                "verdict": verd[0],
                "decided_by": dec[0],
                "probability": float(pm[0]),
            }
        )
    return {"dataset_flows": dataset_rows, "synthetic_flows": synthetic}


# ---------------------------------------------------------------------------------------------- packets


def train_packet_model() -> dict[str, Any]:
    df = load_packets(OUT_DIR)
    split = split_by_capture(df).to_numpy()
    X = sanitize(df[list(PACKET_FEATURES)].to_numpy(dtype=np.float64))
    y = df["malicious"].to_numpy().astype(int)
    tr = split == "train"
    X_train = np.vstack([X[tr], mask_optional(X[tr])])
    y_train = np.concatenate([y[tr], y[tr]])
    model = lgb.LGBMClassifier(
        n_estimators=100, learning_rate=0.1, num_leaves=15, min_child_samples=20, class_weight="balanced",
        random_state=SEED, deterministic=True, force_col_wise=True, n_jobs=1, verbose=-1,
    ).fit(X_train, y_train)
    blob = lightgbm_to_onnx(model, len(PACKET_FEATURES), "CCF-Catcher single-packet classifier (LightGBM, labeled capture corpora)")
    onnx_model = OnnxModel(blob)
    p_full = onnx_model.run("probabilities", X)[:, 1]
    p_min = onnx_model.run("probabilities", mask_optional(X))[:, 1]
    va, te = split == "val", split == "test"
    threshold, met = pick_threshold(p_full[va & (y == 0)], THRESHOLD_GRID, PACKET_TARGET_FPR)

    def report(p: np.ndarray, rows: np.ndarray) -> dict[str, Any]:
        pred = p[rows] >= threshold
        truth = y[rows] == 1
        tp, fp = int((pred & truth).sum()), int((pred & ~truth).sum())
        return {
            "roc_auc": r(roc_auc_score(truth, p[rows])) if truth.any() and (~truth).any() else None,
            "precision": r(tp / max(1, tp + fp)),
            "recall": r(tp / max(1, int(truth.sum()))),
            "benign_fpr": r(fp / max(1, int((~truth).sum())), 5),
            "n_malicious": int(truth.sum()),
            "n_benign": int((~truth).sum()),
        }

    per_capture = {
        cap: r((p_full[(df["capture"] == cap).to_numpy()] >= threshold).mean())
        for cap in sorted(df.loc[te & (y == 1), "capture"].unique())
    }
    metrics = {
        "test_all_fields": report(p_full, te),
        "test_minimal_fields": report(p_min, te),
        "val_all_fields": report(p_full, va),
        "test_malicious_captures_flagged_share": per_capture,
        "captures": {s: {"malicious": int(df.loc[(split == s) & (y == 1), "capture"].nunique()), "benign": int(df.loc[(split == s) & (y == 0), "capture"].nunique())} for s in ("train", "val", "test")},
    }
    examples = [
        {"len": 60, "source_port": 80, "dest_port": 443},
        {"len": 1514, "protocol": 17, "source_port": 161, "dest_port": 37810, "ttl": 55, "tcp_flags": -1, "tcp_window": -1},
        {"len": 74, "protocol": 6, "source_port": 51234, "dest_port": 22, "ttl": 64, "tcp_flags": 2, "tcp_window": 64240},
    ]
    golden = []
    for rec in examples:
        x = sanitize(np.array([[rec.get(f, -1) for f in PACKET_FEATURES]], dtype=np.float64))
        golden.append({"record": rec, "probability": float(onnx_model.run("probabilities", x)[0, 1])})
    log(f"packet model: threshold {threshold}, test {metrics['test_all_fields']}")
    return {"blob": blob, "threshold": threshold, "threshold_target_met": met, "metrics": metrics, "golden": golden, "rows": int(len(df))}


# ---------------------------------------------------------------------------------------------- outputs


def write(path: str, blob: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(blob)


def main() -> None:
    np.random.seed(SEED)
    flows = train_flow_models()
    packets = train_packet_model()
    files = {
        "flow-classifier": ("flow-classifier.onnx", flows["classifier"]["blob"]),
        "flow-anomaly": ("flow-anomaly.onnx", flows["anomaly"]["blob"]),
        "packet-classifier": ("packet-classifier.onnx", packets["blob"]),
    }
    for name, (file, blob) in files.items():
        write(os.path.join(MODELS_DIR, file), blob)
        log(f"{file}: {len(blob)} bytes sha256 {sha256(blob)}")
    bundle_digest = sha256("".join(sha256(b) for _, b in files.values()).encode())[:8]
    model_version = f"{BUNDLE_VERSION}+{bundle_digest}"
    features = flows["features"]

    def entry(name: str, kind: str, feature_set: str, feats: list[str], required: list[str], outputs: dict, classes: list[str] | None, thresholds: dict, training: dict, metrics: dict, description: str) -> dict:
        file, blob = files[name]
        return {
            "name": name,
            "version": BUNDLE_VERSION,
            "kind": kind,
            "description": description,
            "file": file,
            "sha256": sha256(blob),
            "bytes": len(blob),
            "feature_set": feature_set,
            "input": {"name": "input", "type": "float32", "features": feats},
            "required_features": required,
            "absent_value": -1 if kind == "packet" else None,
            "outputs": outputs,
            "classes": classes,
            "thresholds": thresholds,
            "training_data": training,
            "metrics": metrics,
        }

    manifest = {
        "manifest_version": 1,
        "bundle_version": BUNDLE_VERSION,
        "model_version": model_version,
        "numeric_policy": "per value: not finite (NaN, +-Infinity, missing) -> 0; clamp to +-3.4028234663852886e38; round to float32",
        "combination_policy": {
            "description": "p_mal = 1 - P(benign) from flow-classifier. p_mal >= classifier threshold -> malicious, label = most probable attack class, decided_by flow-classifier. Else anomaly_score >= anomaly threshold -> malicious, label 'anomaly', decided_by flow-anomaly. Else benign, decided_by flow-classifier. probability is always p_mal. Thresholds: smallest value keeping validation benign false positives <= 1/1000 (i.e. none of the validation benign flows).",
            "classifier_threshold": flows["classifier"]["threshold"],
            "anomaly_threshold": flows["anomaly"]["threshold"],
            "target_benign_fpr": TARGET_BENIGN_FPR,
            "metrics": flows["combined"],
            "leave_one_family_out": flows["lofo"],
        },
        "models": [
            entry(
                "flow-classifier", "flow", FEATURE_SET, features, features,
                {"label": "int64 [N]: index into classes", "probabilities": "float32 [N, C]: class probabilities in classes order (ZipMap disabled)"},
                list(CLASSES),
                {"malicious_probability": flows["classifier"]["threshold"]},
                flows["training_data"],
                {"test": flows["classifier"]["metrics"], "temporal_split_test": flows["classifier"]["temporal"], "threshold_target_met": flows["classifier"]["threshold_target_met"]},
                "Multi-class gradient-boosted trees (LightGBM, 20 rounds x 8 classes, <= 15 leaves, depth <= 6: sized for >= 200k flows/s) over the CIC flow columns; malicious probability = 1 - P(benign).",
            ),
            entry(
                "flow-anomaly", "flow", FEATURE_SET, features, features,
                {"anomaly_score": "float32 [N, 1]: -decision_function of an IsolationForest on signed_log1p(features); higher = less like benign training flows"},
                None,
                {"anomaly_score": flows["anomaly"]["threshold"]},
                {**flows["training_data"], "rows_used": "benign training rows only"},
                flows["anomaly"]["metrics"],
                "IsolationForest (32 trees, 256 samples each) trained on benign flows only, exported as one TreeEnsembleRegressor of path lengths; the graph applies sign(x)*log(|x|+1) first.",
            ),
            entry(
                "packet-classifier", "packet", "packet-header-v1", list(PACKET_FEATURES), list(REQUIRED_PACKET_FEATURES),
                {"label": "int64 [N]", "probabilities": "float32 [N, 2]: [benign, malicious]"},
                ["benign", "malicious"],
                {"malicious_probability": packets["threshold"]},
                {
                    "malicious": "every capture labeled attack:* in ../shared/corpora/MANIFEST.csv (StopDDoS DDoS captures, slips malware/brute-force/scan/C2 captures), up to 3000 packets each",
                    "benign": "presumed benign protocol test traces (zeek, tcpdump collections; Ethernet; no attack word in the name), up to 300 packets each",
                    "packets": packets["rows"],
                    "split": "whole capture files: sorted per label, index % 5 == 3 -> val, == 4 -> test",
                    "features": "len = frame length on the wire; protocol = IP protocol; ports (TCP/UDP); ttl = IPv4 TTL or IPv6 hop limit; tcp_flags = TCP flags byte; tcp_window = raw window field; -1 = absent. Trained on each packet twice: as captured and with every optional field absent.",
                },
                {**packets["metrics"], "threshold_target_fpr": PACKET_TARGET_FPR, "threshold_target_met": packets["threshold_target_met"]},
                "Binary gradient-boosted trees over one packet's header fields: keeps the original POST /api/predict {len, source_port, dest_port} contract meaningful. Advisory; not part of the flow verdict.",
            ),
        ],
    }
    with open(os.path.join(MODELS_DIR, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, sort_keys=False)
        f.write("\n")
    golden = {
        "generated_by": "models/training/train.sh",
        "model_version": model_version,
        **flows["golden"],
        "packets": packets["golden"],
    }
    os.makedirs(os.path.dirname(GOLDEN_PATH), exist_ok=True)
    with open(GOLDEN_PATH, "w", encoding="utf-8") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")
    from .report import write_evaluation

    write_evaluation(os.path.join(MODELS_DIR, "EVALUATION.md"), manifest)
    log(f"done: model_version {model_version}")


if __name__ == "__main__":
    main()
