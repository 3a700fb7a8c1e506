#!/usr/bin/env bash
# A folder of query photos against a gallery: embed the queries (--resume), identify them
# (k best matches each), and the top matches as CSV. Reruns with no new query photo do no work.
#
#   pipelines/batch-identify.sh pipelines/config/batch-identify.env
set -euo pipefail
PIPELINE=batch-identify
CONFIG=${1:-}
. "$(dirname "$0")/lib.sh"
ff_config "$CONFIG"
: "${QUERIES:?QUERIES (the folder of query photos) must be set in $CONFIG}"
: "${GALLERY:?GALLERY (a gallery directory) must be set in $CONFIG}"
ff_lock

ff_step embed ff embed "$QUERIES" -o "$WORK/queries.parquet" --errors "$WORK/embed-errors.parquet" --resume ${EMBED_FLAGS:-}
state="$(cksum <"$WORK/queries.parquet") $(ff_generation "$GALLERY")"
if [ "$state" = "$(cat "$WORK/.identify-state" 2>/dev/null)" ] && [ -f "$WORK/matches.parquet" ]; then
    ff_skip identify "no new query faces and the same gallery generation"
else
    ff_step identify ff identify --gallery "$GALLERY" --queries "$WORK/queries.parquet" -o "$WORK/matches.parquet" -k "${K:-5}"
    ff_step top_matches ff sql "SELECT m.query_id, q.path AS query_path, m.rank, m.face_id, m.identity, m.cosine FROM matches m JOIN queries q ON q.face_id = m.query_id WHERE m.cosine >= ${MIN_COSINE:-0.4} ORDER BY q.path, m.rank" \
        --table matches="$WORK/matches.parquet" --table queries="$WORK/queries.parquet" -o "$WORK/top-matches.csv"
    [ "$DRY_RUN" = 1 ] || echo "$state" >"$WORK/.identify-state"
fi
ff_summary ok
echo "$PIPELINE: ok; summary in $RUN_DIR/run-summary.json"
