#!/usr/bin/env bash
# Build LLaMA-Factory's own virtual environment for bench/train_throughput.py's contender (c).
#
# LLaMA-Factory pins older transformers/trl/peft/datasets/accelerate than the project, so it cannot share
# the project's .venv. llamafactory 0.9.5 (the newest on PyPI) accepts python >= 3.11,
# transformers >= 4.55,<= 5.6, trl >= 0.18,<= 0.24, peft 0.18.x, datasets <= 4.0, accelerate <= 1.11.
# torch is pinned to the project's 2.13.0 so pip takes the local CPU wheel instead of a multi-GB CUDA build;
# torchvision/torchaudio are declared deps of llamafactory: pinning torchvision 0.28.0 (the release for torch
# 2.13.0) and torchaudio 2.11.0 (the newest; it does not pin torch) keeps pip from replacing torch; both are
# removed again below.
#
# Usage: bash bench/setup_llamafactory.sh            (re-running is a no-op once the stamp exists)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${LLAMAFACTORY_VENV:-$HERE/.venv-llamafactory}"
PYTHON="${PYTHON:-python3.11}"
LLAMAFACTORY_VERSION="${LLAMAFACTORY_VERSION:-0.9.5}"
STAMP="$VENV/.installed-$LLAMAFACTORY_VERSION"

if [[ -f "$STAMP" ]]; then
    echo "LLaMA-Factory $LLAMAFACTORY_VERSION already installed in $VENV"
    exit 0
fi
command -v "$PYTHON" >/dev/null || { echo "$PYTHON not found: set PYTHON=/path/to/python3.11" >&2; exit 1; }

"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install --quiet --upgrade pip

# Constraints file: keeps every resolver step on the CPU torch 2.13.0 build.
CONSTRAINTS="$(mktemp)"
trap 'rm -f "$CONSTRAINTS"' EXIT
cat >"$CONSTRAINTS" <<'EOF'
torch==2.13.0
torchvision==0.28.0
torchaudio==2.11.0
EOF

"$VENV/bin/pip" install --quiet -c "$CONSTRAINTS" "torch==2.13.0"
"$VENV/bin/pip" install --quiet -c "$CONSTRAINTS" "llamafactory==$LLAMAFACTORY_VERSION"
# PyPI's torchvision/torchaudio wheels link CUDA libraries (libc10_cuda.so) that the CPU torch build lacks:
# importing them fails ("operator torchvision::nms does not exist"), and transformers imports torchvision
# whenever it is installed. A text-only SFT needs neither; llamafactory_worker.py stubs the torchaudio import
# that LLaMA-Factory's multimodal plugin makes at the top.
"$VENV/bin/pip" uninstall --quiet --yes torchvision torchaudio
# Fail here, not in the benchmark, when the install is unusable.
"$VENV/bin/python" - <<'PY'
import torch, transformers, trl, llamafactory
print("llamafactory", llamafactory.__version__, "torch", torch.__version__, "transformers", transformers.__version__,
      "trl", trl.__version__)
PY
touch "$STAMP"
