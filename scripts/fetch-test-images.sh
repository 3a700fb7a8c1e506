#!/usr/bin/env bash
# Real photos for the embedding tests, taken from PyPI packages (nothing is committed):
#   face_recognition==1.3.0 sdist: obama.jpg, obama2.jpg, obama3.jpg, biden.jpg, 32bit.png
#   insightface==2.1 sdist:        t1.jpg (six people)
#   scikit-image==0.26.0 wheel:    astronaut.png
# into tests/data/photos/. Idempotent; offline once done.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
OUT=tests/data/photos
CACHE=.cache/pypi
SUMS=$(cat <<'EOF2'
44dca895a7d635a4aedddd91a4f37af9a8a5b44e66154282a24645a757b5f627  32bit.png
88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5  astronaut.png
3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c  biden.jpg
0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6  obama.jpg
a7efcc907375274796f39646510704aa86672d59f6d5469d69af3c85590976a6  obama2.jpg
76ac6bf97c36dc2da0ad16a537d6a5ac1b10f48d49aac29a0cca9a17cdbc3ca3  obama3.jpg
47f682e945b659f93a9e490b9c9c4a2a864abe64dace9e1a2893845ddfd69489  t1.jpg
EOF2
)
if [ -d "$OUT" ] && (cd "$OUT" && echo "$SUMS" | sha256sum -c --quiet >/dev/null 2>&1); then
    exit 0
fi
mkdir -p "$CACHE" "$OUT"
get() { # spec, file pattern, extra pip args
    if ! ls "$CACHE"/$2 >/dev/null 2>&1; then
        echo "fetch-test-images: downloading $1 from PyPI"
        "$PY" -m pip download --quiet --disable-pip-version-check --no-deps $3 "$1" -d "$CACHE"
    fi
}
get face_recognition==1.3.0 'face_recognition-1.3.0.tar.gz' '--no-binary :all:'
get insightface==2.1 'insightface-2.1.tar.gz' '--no-binary :all:'
get scikit-image==0.26.0 'scikit_image-0.26.0-*.whl' '--only-binary :all:'
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf "$CACHE/face_recognition-1.3.0.tar.gz" -C "$work"
tar -xzf "$CACHE/insightface-2.1.tar.gz" -C "$work"
"$PY" - "$CACHE" "$work" <<'PY'
import glob, sys, zipfile
cache, work = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(glob.glob(f"{cache}/scikit_image-0.26.0-*.whl")[0]) as z:
    z.extract("skimage/data/astronaut.png", work)
PY
for f in obama.jpg obama2.jpg obama3.jpg biden.jpg 32bit.png; do
    cp "$work/face_recognition-1.3.0/tests/test_images/$f" "$OUT/"
done
cp "$work/insightface-2.1/insightface/data/images/t1.jpg" "$OUT/"
cp "$work/skimage/data/astronaut.png" "$OUT/"
(cd "$OUT" && echo "$SUMS" | sha256sum -c --quiet)
echo "fetch-test-images: wrote $OUT"
