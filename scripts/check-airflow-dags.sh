#!/usr/bin/env bash
# Checks that the Airflow DAGs in pipelines/airflow/ import cleanly under apache-airflow from
# PyPI (a project-local .venv-airflow, kept apart from .venv: Airflow pins many packages).
# Run by `make test`; the install is idempotent and offline once done.
set -euo pipefail
cd "$(dirname "$0")/.."
AIRFLOW_VERSION=3.3.2
PY=${PYTHON:-python3}
if [ ! -x .venv-airflow/bin/python ] || ! .venv-airflow/bin/python -c "import airflow, sys; sys.exit(airflow.__version__ != '$AIRFLOW_VERSION')" 2>/dev/null; then
    echo "check-airflow-dags: installing apache-airflow==$AIRFLOW_VERSION into .venv-airflow"
    "$PY" -m venv .venv-airflow
    .venv-airflow/bin/python -m pip install --quiet --disable-pip-version-check "apache-airflow==$AIRFLOW_VERSION"
fi
AIRFLOW_HOME=$(mktemp -d)
export AIRFLOW_HOME
trap 'rm -rf "$AIRFLOW_HOME"' EXIT
.venv-airflow/bin/python - <<'PY'
import sys
try:
    from airflow.dag_processing.dagbag import DagBag  # Airflow 3
except ImportError:
    from airflow.models.dagbag import DagBag  # Airflow 2
bag = DagBag(dag_folder="pipelines/airflow")
want = {"faceflash_nightly_archive_dedup", "faceflash_watchlist_scan", "faceflash_batch_identify"}
if bag.import_errors or set(bag.dag_ids) != want:
    sys.exit(f"check-airflow-dags: import errors {bag.import_errors}, DAGs {sorted(bag.dag_ids)}")
for dag in bag.dags.values():
    for task in dag.tasks:
        if task.retries < 1:
            sys.exit(f"check-airflow-dags: {dag.dag_id}.{task.task_id} has no retries")
print(f"check-airflow-dags: {len(bag.dag_ids)} DAGs import cleanly: {', '.join(sorted(bag.dag_ids))}")
PY
