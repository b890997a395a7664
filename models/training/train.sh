#!/bin/sh
# Rebuild every CCF-Catcher model from the data: models/*.onnx, models/manifest.json, models/EVALUATION.md,
# models/EVALUATION-LAB.md, models/lab-evaluation.json and test/fixtures/model-golden.json.
# Deterministic (fixed seeds, one thread).
# Data: $CCF_SHARED_DIR (default: <repo>/../shared) and the traffic lab's labeled flows
# (lab-output/lab-flows-labeled.csv, or $CCF_LAB_FLOWS): regenerate them with
#   sudo models/training/lab/lab.sh && python3 models/training/lab/label_flows.py
# Needs python3.11 and tshark.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
venv="$here/.venv"
if [ ! -x "$venv/bin/python" ]; then
  python3.11 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
cd "$here"
export OMP_NUM_THREADS=1 PYTHONHASHSEED=0
"$venv/bin/python" -m ccf_training.train "$@"
