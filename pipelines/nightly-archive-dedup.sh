#!/usr/bin/env bash
# Nightly dedup of a growing photo archive:
#   1. embed new photos (--resume: photos already embedded, or already refused, are skipped);
#   2. index the new faces into the gallery (--append: face ids already indexed are skipped);
#   3. when the gallery changed: dedup, same-person clusters and the HTML report;
#   4. a SQL summary of the clusters (summary.json).
# A rerun with no new photos does no work and leaves every output as it was; a run killed at
# any step is finished by the next one (every output is written atomically).
#
#   pipelines/nightly-archive-dedup.sh pipelines/config/nightly-archive-dedup.env
#   crontab: 15 2 * * * cd /srv/faceflash && pipelines/nightly-archive-dedup.sh pipelines/config/nightly-archive-dedup.env
set -euo pipefail
PIPELINE=nightly-archive-dedup
CONFIG=${1:-}
. "$(dirname "$0")/lib.sh"
ff_config "$CONFIG"
: "${ARCHIVE:?ARCHIVE (the photo folder) must be set in $CONFIG}"
THRESHOLD=${THRESHOLD:-0.5}
MIN_FACES=${MIN_FACES:-3}
ff_lock

ff_step embed ff embed "$ARCHIVE" -o "$WORK/faces.parquet" --errors "$WORK/embed-errors.parquet" --resume ${EMBED_FLAGS:-}
before=$(ff_generation "$WORK/gallery")
ff_step index ff index "$WORK/faces.parquet" -o "$WORK/gallery" --append ${INDEX_FLAGS:-}
after=$(ff_generation "$WORK/gallery")
done_for=$(cat "$WORK/.dedup-generation" 2>/dev/null || echo none)
if [ "$after" = "$done_for" ] && [ -f "$WORK/clusters.parquet" ]; then
    ff_skip dedup "gallery generation $after already deduplicated"
else
    ff_step dedup ff dedup --gallery "$WORK/gallery" --threshold "$THRESHOLD" -o "$WORK/pairs.parquet" \
        --clusters "$WORK/clusters.parquet" --min-faces "$MIN_FACES" --report "$WORK/report.html" ${DEDUP_FLAGS:-}
    [ "$DRY_RUN" = 1 ] || echo "$after" >"$WORK/.dedup-generation"
    ff_step summary ff sql -f "$(dirname "$0")/sql/archive-summary.sql" \
        --table clusters="$WORK/clusters.parquet" --gallery gallery="$WORK/gallery" -o "$WORK/summary.json"
fi
ff_summary ok
echo "$PIPELINE: ok (gallery generation $before → $after); summary in $RUN_DIR/run-summary.json"
