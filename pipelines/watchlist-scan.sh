#!/usr/bin/env bash
# New photos against a watchlist gallery, nightly:
#   1. embed new photos of the stream folder (--resume);
#   2. when the stream's faces changed: watchlist scan of every stream face (a face hits at
#      most once a run; the scan is fast, so rescanning keeps hits complete when the
#      watchlist itself changes) → hits.parquet;
#   3. hits per day as CSV (SQL over the hits and the photos' paths).
#
#   pipelines/watchlist-scan.sh pipelines/config/watchlist-scan.env
set -euo pipefail
PIPELINE=watchlist-scan
CONFIG=${1:-}
. "$(dirname "$0")/lib.sh"
ff_config "$CONFIG"
: "${STREAM:?STREAM (the folder of new photos) must be set in $CONFIG}"
: "${WATCHLIST:?WATCHLIST (a gallery directory) must be set in $CONFIG}"
THRESHOLD=${THRESHOLD:-0.5}
ff_lock

ff_step embed ff embed "$STREAM" -o "$WORK/stream.parquet" --errors "$WORK/embed-errors.parquet" --resume ${EMBED_FLAGS:-}
state="$(cksum <"$WORK/stream.parquet" 2>/dev/null || echo none) $(ff_generation "$WATCHLIST")"
if [ "$state" = "$(cat "$WORK/.watchlist-state" 2>/dev/null)" ] && [ -f "$WORK/hits.parquet" ]; then
    ff_skip watchlist "no new stream faces and the same watchlist generation"
else
    ff_step watchlist ff watchlist --watchlist "$WATCHLIST" --stream "$WORK/stream.parquet" \
        --threshold "$THRESHOLD" -o "$WORK/hits.parquet" -k "${K:-3}" --per-identity
    ff_step per_day ff sql -f "$(dirname "$0")/sql/hits-per-day.sql" \
        --table hits="$WORK/hits.parquet" --table stream="$WORK/stream.parquet" -o "$WORK/hits-per-day.csv"
    [ "$DRY_RUN" = 1 ] || echo "$state" >"$WORK/.watchlist-state"
fi
ff_summary ok
echo "$PIPELINE: ok; summary in $RUN_DIR/run-summary.json"
