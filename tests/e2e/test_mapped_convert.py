"""End to end in ``airflow dags test``: one export converted by the one-task path and by mapped slice tasks gives the
same Parquet (values and schema); a slice whose first try fails retries alone, the others run once.

The DAG (tests/e2e/mapped_dag.py) is a small one of the tests' own: the same operators the table DAG wires for
``convert.engine: mapped``, over a four-file export written to moto's S3. The real scheduler runs it too, with the
slice's first try SIGKILLed (tests/scheduler/test_parallel_backfill.py).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from airflow_runs import airflow_env, dags_test, run_states
from mapped_dag import check_copies, write_dag

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

DAG_ID = "mapped_convert_check"
BUCKET = "mapped-convert"


def test_mapped_slices_equal_the_worker_and_a_failed_slice_retries_alone(local_stack_state, tmp_path: Path):
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    s3 = AwsBaseHook(aws_conn_id="aws_default", client_type="s3", region_name="us-east-1").conn
    dags = tmp_path / "dags"
    write_dag(s3, dags, bucket=BUCKET, dag_id=DAG_ID, fault="raise", work=tmp_path)
    env = airflow_env(tmp_path, tmp_path / "tables")
    env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags)
    log = dags_test(env, DAG_ID, "2026-11-22T00:00:00+00:00", tmp_path / "dags-test.log")
    assert [state for _, state in run_states(env, DAG_ID)] == ["success"], log[-6000:]

    with sqlite3.connect(tmp_path / "airflow-home" / "airflow.db") as db:
        tries = db.execute("SELECT map_index, state, try_number FROM task_instance WHERE dag_id = ? AND task_id = "
                           "'convert_slice' ORDER BY map_index", (DAG_ID,)).fetchall()
    assert tries == [(0, "success", 1), (1, "success", 2), (2, "success", 1)]  # only slice 1 ran again
    assert "injected: slice 1 dies on its first try" in log
    check_copies(s3, BUCKET)
