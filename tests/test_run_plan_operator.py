"""The plan task with the context of an Airflow 3 run triggered without a logical date."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_compat import DAY_START, no_logical_date_context

from ddb_lake.compat import DAG, AirflowFailException, CronDataIntervalTimetable
from ddb_lake.core.config.table_config import load_table_config
from ddb_lake.core.run_plan import table_plan
from ddb_lake.operators.run_plan import RunPlanOperator

TABLES = Path(__file__).resolve().parents[1] / "include" / "tables"


def plan_task(schedule) -> RunPlanOperator:
    dag = DAG("ddb_lake_orders", schedule=schedule, start_date=DAY_START)
    return RunPlanOperator(task_id="plan", dag=dag,
                           table_plan=table_plan(load_table_config(TABLES / "orders.yaml"), "full"))


def test_a_run_without_a_logical_date_plans_the_last_complete_day_before_run_after():
    task = plan_task(CronDataIntervalTimetable("0 0 * * *", timezone="UTC"))
    plan = task.execute(no_logical_date_context(task.dag))  # run_after 2026-11-20T09:30Z
    assert plan["export_time"] == "2026-11-20T00:00:00+00:00"
    assert plan["snapshot"] == "20261120T000000Z"
    assert plan["snapshot_url"] == "s3://ddb-lake-demo/lake/snapshots/orders/snapshot=20261120T000000Z"


def test_a_dag_without_an_interval_schedule_fails_saying_what_to_pass():
    task = plan_task(None)
    with pytest.raises(AirflowFailException, match=r"has no logical date .* Fix: trigger it with a logical date "
                                                   r"\(`airflow dags trigger ddb_lake_orders --logical-date"):
        task.execute(no_logical_date_context(task.dag))
