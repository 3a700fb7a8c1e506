#!/usr/bin/env bash
# The whole comparison in one command: faceflash-batch `bench ann` (which prepares each
# scale's dataset and measures our side), every peer on the same datasets
# (scripts/compare_peers.py ann), then the Markdown table and charts (report).
#
#   scripts/compare-ann.sh [SCALES] [extra `bench ann` flags...]
#   SCALES: comma-separated with k/m suffixes (default 100k), e.g. 100k,1m
#   env: DATA (default synth), RESULTS (results), WORK (.cache/ann), PEER_FLAGS, SYSTEMS (all)
set -euo pipefail
cd "$(dirname "$0")/.."
SCALES=${1:-100k}
shift || true
DATA=${DATA:-synth}
RESULTS=${RESULTS:-results}
WORK=${WORK:-.cache/ann}
SYSTEMS=${SYSTEMS:-all}
BIN=target/release/faceflash-batch
PY=.venv/bin/python

start=$(date +%s)
cargo build --release --no-default-features --quiet
"$BIN" bench ann --data "$DATA" --scales "$SCALES" --out "$RESULTS" --work "$WORK" "$@"
# The dataset directories `bench ann` made, by the name it gives them (<data>-<scale>).
tag=synth
if [ "$DATA" != synth ]; then tag=$(basename "$DATA"); tag=${tag%.*}; tag=${tag//[. ]/_}; fi
for scale in ${SCALES//,/ }; do
  name="$tag-$(echo "$scale" | tr 'KM' 'km')"
  if [ ! -f "$WORK/$name/dataset.json" ]; then
    echo "compare-ann: $WORK/$name/dataset.json missing: give SCALES with k/m suffixes (100k, 1m)" >&2
    exit 2
  fi
  $PY scripts/compare_peers.py ann --data "$WORK/$name" --out "$RESULTS/$name" \
      --systems "$SYSTEMS" --skip-done ${PEER_FLAGS:-}
done
# The machine these figures come from (they differ several-fold between machines), and the
# time the whole comparison took.
for scale in ${SCALES//,/ }; do
  name="$tag-$(echo "$scale" | tr 'KM' 'km')"
  $PY - "$RESULTS/$name/machine.json" "$(( $(date +%s) - start ))" <<'PY'
import json, os, sys, time
info = {}
for line in open("/proc/cpuinfo"):
    key, _, value = line.partition(":")
    info.setdefault(key.strip(), value.strip())
flags = info.get("flags", "").split()
simd = [f for f in ("avx512f", "avx512_vpopcntdq", "avx512bw", "avx2", "popcnt", "neon") if f in flags]
mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
json.dump({"cpu": info.get("model name", "unknown"), "cpus": os.cpu_count(), "simd": simd,
           "mem_gib": round(mem / 2**20), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "seconds": int(sys.argv[2])}, open(sys.argv[1], "w"), indent=2)
PY
done
$PY scripts/compare_peers.py report --results "$RESULTS"
echo "compare-ann: done in $(( $(date +%s) - start )) s; see $RESULTS/comparison.md"
