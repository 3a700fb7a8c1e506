# Shared by the pipeline scripts: configuration, the run lock, steps with timings and logs,
# the JSON run summary and the _SUCCESS marker. Source it; do not run it.
#
# A run writes into $WORK/runs/<run id>/: one log per step (faceflash-batch's JSON events),
# run-summary.json (status, per-step exit code, seconds and result event), and _SUCCESS when
# every step succeeded. $WORK/last-run.json is a copy of the newest summary, for Airflow.

ff_config() { # FILE: source the pipeline's config (shell KEY=VALUE lines)
    if [ -z "${1:-}" ] || [ ! -f "$1" ]; then
        echo "usage: $0 CONFIG.env (see pipelines/config/)" >&2
        exit 2
    fi
    # shellcheck disable=SC1090
    . "$1"
    FACEFLASH=${FACEFLASH:-faceflash-batch}
    THREADS=${THREADS:-}
    DRY_RUN=${DRY_RUN:-0}
    : "${WORK:?WORK (the state and output folder of the pipeline) must be set in $1}"
    mkdir -p "$WORK/runs"
    RUN_ID=$(date -u +%Y%m%dT%H%M%SZ)-$$
    RUN_DIR="$WORK/runs/$RUN_ID"
    mkdir -p "$RUN_DIR"
    STEPS=""
    STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
}

ff_lock() { # one run at a time per $WORK (a second run exits 75, EX_TEMPFAIL: retry later)
    exec 9>"$WORK/.pipeline.lock"
    if ! flock -n 9; then
        echo "$PIPELINE: another run holds $WORK/.pipeline.lock; exiting" >&2
        rm -rf "$RUN_DIR"
        exit 75
    fi
}

ff() { # faceflash-batch with the pipeline's global flags
    "$FACEFLASH" --log-format json ${THREADS:+--threads "$THREADS"} "$@"
}

ff_step() { # NAME COMMAND...: run a step, log its events, record its outcome; stop on failure
    local name=$1
    shift
    local log="$RUN_DIR/$name.log" start end code=0
    if [ "$DRY_RUN" = 1 ]; then
        # faceflash-batch's jobs say what they would do (counts of new photos and faces,
        # queries, pairs; they read the inputs as they are now, before this run's earlier
        # steps); other steps (sql) are listed.
        case "$1 ${2:-}" in
            "ff embed" | "ff index" | "ff identify" | "ff dedup" | "ff watchlist")
                local said
                if said=$("$@" --dry-run 2>"$log"); then
                    echo "$name: $said"
                else # e.g. its input is written by an earlier step that did not run
                    echo "$name: would run: $* (its dry run failed: $(tail -n 1 "$log"))"
                fi
                ;;
            *) echo "would run: $*" ;;
        esac
        return 0
    fi
    start=$(date +%s.%N)
    "$@" >"$RUN_DIR/$name.out" 2>"$log" || code=$?
    end=$(date +%s.%N)
    local result
    result=$(grep -h '"event":"[a-z_]*_done"' "$log" | tail -n 1 || true)
    STEPS="$STEPS${STEPS:+,}{\"name\":\"$name\",\"exit_code\":$code,\"seconds\":$(awk "BEGIN{print $end-$start}"),\"result\":${result:-null}}"
    if [ "$code" -ne 0 ]; then
        echo "$PIPELINE: step $name failed (exit $code); its log: $log" >&2
        tail -n 5 "$log" >&2
        ff_summary failed
        exit "$code"
    fi
}

ff_skip() { # NAME WHY: record a step that had nothing to do
    STEPS="$STEPS${STEPS:+,}{\"name\":\"$1\",\"skipped\":\"$2\"}"
    [ "$DRY_RUN" = 1 ] && echo "would skip $1: $2"
    return 0
}

ff_summary() { # STATUS: write run-summary.json atomically (and _SUCCESS when ok)
    local status=$1 tmp="$RUN_DIR/.run-summary.json.tmp"
    [ "$DRY_RUN" = 1 ] && { rm -rf "$RUN_DIR"; return 0; }
    printf '{"pipeline":"%s","run_id":"%s","status":"%s","started":"%s","finished":"%s","config":"%s","steps":[%s]}\n' \
        "$PIPELINE" "$RUN_ID" "$status" "$STARTED" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$CONFIG" "$STEPS" >"$tmp"
    mv "$tmp" "$RUN_DIR/run-summary.json"
    cp "$RUN_DIR/run-summary.json" "$WORK/.last-run.json.tmp" && mv "$WORK/.last-run.json.tmp" "$WORK/last-run.json"
    [ "$status" = ok ] && : >"$RUN_DIR/_SUCCESS"
    return 0
}

ff_generation() { # GALLERY: the gallery's generation (0 when there is none)
    if [ -f "$1/manifest.json" ]; then
        grep -o '"generation": *[0-9]*' "$1/manifest.json" | grep -o '[0-9]*$'
    else
        echo 0
    fi
}
