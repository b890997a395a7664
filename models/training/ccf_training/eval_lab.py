"""Cross-dataset check: the shipped models (trained on CICIDS2017_improved only) scored on the traffic lab's
labeled flows (models/training/lab: label_flows.py -> lab-output/lab-flows-labeled.csv).

Nothing here is trained on lab traffic, so every lab scenario is held out. Reports per-scenario detection,
the label the classifier gives, benign false-positive rate and false positives per hour of benign lab traffic
(benign scenario durations from the ground-truth JSON files). Writes models/EVALUATION-LAB.md and
models/lab-evaluation.json. Skipped (exit 0, message) when the lab's flows are absent.

    models/training/.venv/bin/python -m ccf_training.eval_lab [--flows lab-output/lab-flows-labeled.csv]
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import datetime

import numpy as np
import pandas as pd

from sklearn.metrics import f1_score

from .exporting import OnnxModel
from .features import CLASSES, load_flows, sanitize
from .train import MODELS_DIR, REPO, SEED, THRESHOLD_GRID, TARGET_BENIGN_FPR, classifier, combine, log, pick_threshold, r, stratified_split

# Lab ground-truth families -> classifier classes (the lab's hping3/ab floods are single-source floods).
LAB_FAMILY = {
    "benign": "benign",
    "portscan": "portscan",
    "dos": "dos_flood",
    "slow_dos": "slow_dos",
    "brute_force": "brute_force",
    "web_attack": "web_attack",
}
LAB_ROWS_PER_SCENARIO = 2000


def _duration_s(truth: dict) -> float:
    start = datetime.fromisoformat(truth["started"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(truth["ended"].replace("Z", "+00:00"))
    return max(0.0, (end - start).total_seconds())


def evaluate(flows_path: str) -> dict:
    with open(os.path.join(MODELS_DIR, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    models = {m["name"]: m for m in manifest["models"]}
    features = models["flow-classifier"]["input"]["features"]
    with open(os.path.join(MODELS_DIR, models["flow-classifier"]["file"]), "rb") as f:
        clf = OnnxModel(f.read())
    with open(os.path.join(MODELS_DIR, models["flow-anomaly"]["file"]), "rb") as f:
        iso = OnnxModel(f.read())
    df = pd.read_csv(flows_path, low_memory=False)
    missing = [c for c in features if c not in df.columns]
    if missing:
        raise SystemExit(f"lab flows lack model columns: {missing}")
    X = sanitize(df[features].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64))
    probs = clf.run("probabilities", X)
    anomaly = iso.run("anomaly_score", X)[:, 0]
    policy = manifest["combination_policy"]
    labels, p_mal, verdicts, decided = combine(probs, anomaly, policy["classifier_threshold"], policy["anomaly_threshold"])
    df["pred_label"], df["verdict"], df["decided_by"] = labels, verdicts, decided
    # The dataset's rule: attempted attack flows count as benign.
    truth_malicious = (df["family"] != "benign") & (df["attempted"].astype(str) != "1")

    truth_dir = os.path.dirname(flows_path)
    benign_seconds = 0.0
    durations = {}
    for name in sorted(os.listdir(truth_dir)):
        if name.endswith(".json"):
            with open(os.path.join(truth_dir, name), encoding="utf-8") as f:
                truth = json.load(f)
            durations[truth["scenario"]] = _duration_s(truth)
            if truth["family"] == "benign":
                benign_seconds += durations[truth["scenario"]]

    benign = ~truth_malicious
    fp = int((df.loc[benign, "verdict"] == "malicious").sum())
    scenarios = {}
    for scenario, part in df.groupby("scenario", sort=True):
        attack = part[truth_malicious[part.index]]
        ben = part[~truth_malicious[part.index]]
        scenarios[scenario] = {
            "attack_flows": int(len(attack)),
            "attack_detected": r((attack["verdict"] == "malicious").mean()) if len(attack) else None,
            "attack_labels": {k: int(v) for k, v in attack["pred_label"].value_counts().sort_index().items()},
            "benign_flows": int(len(ben)),
            "benign_false_positives": int((ben["verdict"] == "malicious").sum()),
            "duration_s": r(durations.get(scenario, 0.0), 1),
        }
    lab_trained = leave_one_scenario_out(df, X, truth_malicious)
    return {
        "lab_trained_experiment": lab_trained,
        "model_version": manifest["model_version"],
        "flows": int(len(df)),
        "benign_flows": int(benign.sum()),
        "benign_false_positives": fp,
        "benign_fpr": r(fp / max(1, int(benign.sum())), 5),
        "benign_lab_seconds": r(benign_seconds, 1),
        "false_positives_per_hour_of_benign_traffic": r(
            int((df.loc[benign & df["scenario"].str.startswith("benign"), "verdict"] == "malicious").sum())
            / max(benign_seconds / 3600.0, 1e-9),
            1,
        ),
        "attack_flows": int(truth_malicious.sum()),
        "attack_detected": r((df.loc[truth_malicious, "verdict"] == "malicious").mean()),
        "scenarios": scenarios,
    }


def leave_one_scenario_out(df: pd.DataFrame, X: np.ndarray, truth_malicious: pd.Series) -> dict:
    """Experiment, not shipped: what training on lab traffic would give. For each lab scenario S, a classifier
    (same settings as the shipped one) is trained on the CICIDS training rows plus the lab rows of every other
    scenario (at most LAB_ROWS_PER_SCENARIO each), its threshold set on CICIDS validation benign flows, and
    scored on S alone. Whole scenarios are held out, never rows of the same capture."""
    data = load_flows()
    cic = data.frame
    Xc = sanitize(cic[data.features].to_numpy(dtype=np.float64))
    yc = np.array([CLASSES.index(f) if isinstance(f, str) else -1 for f in cic["family"]])
    split = stratified_split(cic["Label"], SEED).to_numpy()
    tr = (split == "train") & (yc >= 0)
    va_benign = (split == "val") & (yc == 0)
    fam = np.where(truth_malicious.to_numpy(), df["family"].map(LAB_FAMILY).fillna("benign").to_numpy(), "benign")
    yl = np.array([CLASSES.index(f) for f in fam])
    rng = np.random.default_rng(SEED)
    keep = np.zeros(len(df), dtype=bool)
    for _, idx in df.groupby("scenario", sort=True).groups.items():
        idx = np.asarray(idx)
        keep[idx if len(idx) <= LAB_ROWS_PER_SCENARIO else rng.choice(idx, LAB_ROWS_PER_SCENARIO, replace=False)] = True
    pred = np.full(len(df), "", dtype=object)
    verdict = np.full(len(df), "", dtype=object)
    per = {}
    for scenario in sorted(df["scenario"].unique()):
        held = (df["scenario"] == scenario).to_numpy()
        train_lab = keep & ~held
        model = classifier().fit(np.vstack([Xc[tr], X[train_lab]]), np.concatenate([yc[tr], yl[train_lab]]))
        classes = list(model.classes_)
        p = np.zeros((len(X), len(CLASSES)), dtype=np.float64)
        p[:, classes] = model.predict_proba(X)
        pc = np.zeros((int(va_benign.sum()), len(CLASSES)))
        pc[:, classes] = model.predict_proba(Xc[va_benign])
        t, _ = pick_threshold(1.0 - pc[:, 0], THRESHOLD_GRID, TARGET_BENIGN_FPR)
        p_mal = 1.0 - p[held, 0]
        attack = p.copy()
        attack[:, 0] = -1.0
        labels = np.array([CLASSES[i] for i in np.argmax(attack[held], axis=1)], dtype=object)
        verdict[held] = np.where(p_mal >= t, "malicious", "benign")
        pred[held] = np.where(p_mal >= t, labels, "benign")
        rows_attack = held & truth_malicious.to_numpy()
        rows_benign = held & ~truth_malicious.to_numpy()
        per[scenario] = {
            "attack_detected": r((verdict[rows_attack] == "malicious").mean()) if rows_attack.any() else None,
            "benign_false_positives": int((verdict[rows_benign] == "malicious").sum()),
            "threshold": t,
        }
        log(f"lab leave-out {scenario}: {per[scenario]}")
    present = sorted(set(fam))
    benign_rows = ~truth_malicious.to_numpy()
    in_benign_scenarios = df["scenario"].str.startswith("benign").to_numpy()
    return {
        "per_scenario": per,
        "macro_f1_held_out_scenarios": r(f1_score(fam, pred.astype(str), labels=present, average="macro", zero_division=0)),
        "families": present,
        "benign_fpr": r((verdict[benign_rows] == "malicious").mean(), 5),
        "benign_false_positives_in_benign_scenarios": int((verdict[benign_rows & in_benign_scenarios] == "malicious").sum()),
        "attack_detected": r((verdict[truth_malicious.to_numpy()] == "malicious").mean()),
    }


def write_report(result: dict, path_md: str, path_json: str) -> None:
    lines = [
        "# Lab evaluation (cross-dataset)",
        "",
        f"Generated by `python -m ccf_training.eval_lab` — model_version `{result['model_version']}`. The models were trained on",
        "CICIDS2017_improved only; every lab scenario is unseen. Attempted attack flows count as benign.",
        "",
        f"- benign lab flows: {result['benign_flows']}, false positives: {result['benign_false_positives']} (FPR {result['benign_fpr']})",
        f"- benign scenario traffic: {result['benign_lab_seconds']} s; false positives per hour of it: {result['false_positives_per_hour_of_benign_traffic']}",
        f"- attack flows: {result['attack_flows']}, detected: {result['attack_detected']}",
        "",
        "| scenario | attack flows | detected | labels given to attack flows | benign flows | benign FP | duration s |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in result["scenarios"].items():
        labels = ", ".join(f"{k} {v}" for k, v in s["attack_labels"].items())
        lines.append(
            f"| {name} | {s['attack_flows']} | {s['attack_detected'] if s['attack_detected'] is not None else ''} | {labels} | {s['benign_flows']} | {s['benign_false_positives']} | {s['duration_s']} |"
        )
    lab = result.get("lab_trained_experiment")
    if lab:
        hours = result["benign_lab_seconds"] / 3600.0
        lines += [
            "",
            "## Experiment (not shipped): trained with lab traffic, whole scenarios held out",
            "",
            "For each scenario, a classifier with the shipped settings is trained on the CICIDS training rows plus every",
            f"other lab scenario (at most {LAB_ROWS_PER_SCENARIO} flows each) and scored on the held-out scenario alone",
            "(classifier only, threshold from CICIDS validation). Lab families map to classes: dos (hping3/ab floods) -> dos_flood.",
            "",
            f"- macro-F1 over {', '.join(lab['families'])} on held-out scenarios: **{lab['macro_f1_held_out_scenarios']}**",
            f"- benign FPR: {lab['benign_fpr']}; false positives in benign scenarios: {lab['benign_false_positives_in_benign_scenarios']}"
            f" (≈ {lab['benign_false_positives_in_benign_scenarios'] / max(hours, 1e-9):.0f} per hour of benign lab traffic)",
            f"- attack flows detected: {lab['attack_detected']}",
            "",
            "| held-out scenario | attack detected | benign FP | threshold |",
            "|---|---|---|---|",
        ]
        for name, s in lab["per_scenario"].items():
            detected = s["attack_detected"] if s["attack_detected"] is not None else ""
            lines.append(f"| {name} | {detected} | {s['benign_false_positives']} | {s['threshold']} |")
    with open(path_md, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    with open(path_json, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
        f.write("\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", default=os.environ.get("CCF_LAB_FLOWS") or os.path.join(REPO, "lab-output", "lab-flows-labeled.csv"))
    args = parser.parse_args()
    if not os.path.exists(args.flows):
        log(f"lab evaluation skipped: {args.flows} not found (run models/training/lab/lab.sh and label_flows.py)")
        return
    result = evaluate(args.flows)
    write_report(result, os.path.join(MODELS_DIR, "EVALUATION-LAB.md"), os.path.join(MODELS_DIR, "lab-evaluation.json"))
    log(f"lab: benign FPR {result['benign_fpr']}, attack detection {result['attack_detected']}")


if __name__ == "__main__":
    main()
