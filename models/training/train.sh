#!/bin/sh
# Rebuild every CCF-Catcher model from the shared data: models/*.onnx, models/manifest.json,
# models/EVALUATION.md and test/fixtures/model-golden.json (+ models/EVALUATION-LAB.md when the lab's flows
# exist). Deterministic (fixed seeds, one thread).
# Data: $CCF_SHARED_DIR (default: <repo>/../shared). Needs python3.11 and tshark.
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
# Cross-dataset check on the traffic lab's labeled flows, when lab.sh + label_flows.py have been run.
"$venv/bin/python" -m ccf_training.eval_lab
