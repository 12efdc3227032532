"""The first task of every table DAG: the run plan of its data interval, one XCom per key for the later tasks."""

from __future__ import annotations

from typing import Any

from ddb_lake.compat import BaseOperator, Context, data_interval_of
from ddb_lake.core.errors import ConfigError
from ddb_lake.core.run_plan import TablePlan
from ddb_lake.operators.base import ClassifiedErrors


class RunPlanOperator(ClassifiedErrors, BaseOperator):
    """Compute the run's :class:`~ddb_lake.core.run_plan.RunPlan` from the table's plan and the data interval.

    Returns the plan as a dict with ``multiple_outputs``, so later tasks take single values as XComArgs
    (``plan.output["snapshot_url"]``). Runs without a data interval (Airflow 3 runs triggered without a logical
    date, ``airflow dags test``) get the interval the DAG's timetable infers for them: the last complete interval
    before the run's ``run_after``. A DAG whose schedule names no interval fails saying what to pass.
    """

    ui_color = "#e0e7ff"

    def __init__(self, *, table_plan: TablePlan, **kwargs: Any) -> None:
        kwargs.setdefault("multiple_outputs", True)
        super().__init__(**kwargs)
        self.table_plan = table_plan

    def execute(self, context: Context) -> dict[str, Any]:
        start, end = data_interval_of(context)
        if end is None:
            run_id = context.get("run_id") or getattr(context.get("dag_run"), "run_id", "?")
            raise ConfigError(
                f"Run {run_id} of DAG {self.dag_id} (table {self.table_plan.table}) has no logical date and its "
                "schedule names no data interval. Fix: trigger it with a logical date (`airflow dags trigger "
                f"{self.dag_id} --logical-date <end of the interval>`, REST `logical_date`), or give the DAG an "
                "interval schedule (cron)."
            )
        plan = self.table_plan.for_interval(start, end)
        self.log.info(
            "Run plan of %s (%s): export %s at %s, snapshot %s -> %s",
            plan.table, plan.mode, plan.export_type, plan.export_time, plan.snapshot, plan.snapshot_url,
        )
        return plan.to_xcom()
