"""Airflow DAGs for the faceflash-batch pipelines: one BashOperator per pipeline script
(which takes its own lock and skips work already done), with retries. Set the Airflow
Variable ``faceflash_home`` to the faceflash-batch checkout (default /opt/faceflash-batch).

The run summary each script writes (WORK/last-run.json) is pushed to XCom by the task, so
downstream tasks can read counts and timings.
"""
from datetime import datetime, timedelta

from airflow import DAG

try:  # Airflow 3: the standard provider
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2
    from airflow.operators.bash import BashOperator

HOME = "{{ var.value.get('faceflash_home', '/opt/faceflash-batch') }}"
DEFAULTS = {
    "owner": "faceflash",
    "retries": 2,
    "retry_delay": timedelta(minutes=10),
    "retry_exponential_backoff": True,
}
PIPELINES = {
    # dag id: (script, config, schedule)
    "faceflash_nightly_archive_dedup": ("nightly-archive-dedup.sh", "nightly-archive-dedup.env", "15 2 * * *"),
    "faceflash_watchlist_scan": ("watchlist-scan.sh", "watchlist-scan.env", "*/30 * * * *"),
    "faceflash_batch_identify": ("batch-identify.sh", "batch-identify.env", "0 6 * * 1-5"),
}


def make_dag(dag_id, script, config, schedule):
    with DAG(
        dag_id=dag_id,
        default_args=DEFAULTS,
        schedule=schedule,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        tags=["faceflash"],
    ) as dag:
        BashOperator(
            task_id=script.removesuffix(".sh").replace("-", "_"),
            bash_command=(
                f"cd {HOME} && pipelines/{script} pipelines/config/{config} >&2 "
                f"&& . pipelines/config/{config} && cat \"$WORK/last-run.json\""
            ),
            # A non-zero exit (75: another run holds the lock) fails the try; the retries
            # run it again later.
            do_xcom_push=True,
            execution_timeout=timedelta(hours=12),
        )
    return dag


for _dag_id, (_script, _config, _schedule) in PIPELINES.items():
    globals()[_dag_id] = make_dag(_dag_id, _script, _config, _schedule)
