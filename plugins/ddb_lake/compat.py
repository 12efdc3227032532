"""The one place that knows which Airflow major version is installed (2.10+/3.x).

Every Airflow-facing module of ddb-lake imports Airflow names from here.
"""

from __future__ import annotations

from typing import Any

from airflow import __version__ as AIRFLOW_VERSION
from airflow.triggers.base import BaseTrigger, TriggerEvent
from packaging.version import Version

AIRFLOW_V3 = Version(Version(AIRFLOW_VERSION).base_version) >= Version("3.0.0")

if AIRFLOW_V3:
    from airflow.sdk import DAG, Asset, BaseHook, BaseOperator, BaseSensorOperator, Context, TaskGroup
    from airflow.sdk.definitions.timetables.interval import CronDataIntervalTimetable
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowSkipException,
        TaskDeferred,
    )
else:  # pragma: no cover - exercised only on Airflow 2
    from airflow.datasets import Dataset as Asset  # type: ignore[no-redef]
    from airflow.exceptions import (  # type: ignore[no-redef]
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowSkipException,
        TaskDeferred,
    )
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef]
    from airflow.models import BaseOperator  # type: ignore[no-redef]
    from airflow.models.dag import DAG  # type: ignore[no-redef]
    from airflow.sensors.base import BaseSensorOperator  # type: ignore[no-redef]
    from airflow.timetables.interval import CronDataIntervalTimetable  # type: ignore[no-redef]
    from airflow.utils.context import Context  # type: ignore[no-redef]
    from airflow.utils.task_group import TaskGroup  # type: ignore[no-redef]

__all__ = [
    "AIRFLOW_V3",
    "DAG",
    "AirflowException",
    "AirflowFailException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "Asset",
    "BaseHook",
    "BaseOperator",
    "BaseOperatorLink",
    "BaseSensorOperator",
    "BaseTrigger",
    "Context",
    "CronDataIntervalTimetable",
    "TaskDeferred",
    "TaskGroup",
    "TriggerEvent",
    "data_interval_of",
    "run_attempt",
]


def run_attempt(context: Any) -> tuple[str, int]:
    """(run_id, try number) of the running task: new for every run and every retry, the same for a re-send."""
    ti = context.get("ti")
    run_id = context.get("run_id") or getattr(context.get("dag_run"), "run_id", None) or getattr(ti, "run_id", None)
    return str(run_id or ""), int(getattr(ti, "try_number", 1) or 1)


def data_interval_of(context: Any) -> tuple[Any, Any]:
    """Return (start, end) of the run's data interval, taken from the timetable when the run has none.

    ``airflow dags test`` and manual runs in Airflow 3 get an interval whose start equals its end; a DAG on a
    schedule then still means "the interval that ends at the logical date", which the DAG's timetable knows.
    Airflow 3 runs triggered without a logical date (REST ``logical_date: null``, plain ``airflow dags trigger``)
    have neither: they cover the last complete interval before the run's ``run_after``.
    Airflow 2 gives manual runs of an interval timetable the real interval, which is returned as it is.
    """
    start = context.get("data_interval_start")
    end = context.get("data_interval_end")
    if start is not None and end is not None and start != end:
        return start, end
    dag = context.get("dag")
    anchor = end or context.get("logical_date") or getattr(context.get("dag_run"), "run_after", None)
    timetable = _core_timetable(getattr(dag, "timetable", None))
    if timetable is not None and anchor is not None:
        inferred = timetable.infer_manual_data_interval(run_after=anchor)
        if inferred.start != inferred.end:
            return inferred.start, inferred.end
    return start, end


def _core_timetable(timetable: Any) -> Any:
    """The timetable with scheduling logic: in a task, Airflow 3 hands the SDK definition, which has none."""
    if timetable is None or hasattr(timetable, "infer_manual_data_interval"):
        return timetable  # Airflow 2's DAG holds the core timetable itself
    if not AIRFLOW_V3:  # pragma: no cover - an Airflow 2 timetable always has the method
        return None
    from airflow.serialization.encoders import coerce_to_core_timetable  # imported when needed: ~60 ms

    core = coerce_to_core_timetable(timetable)
    return core if hasattr(core, "infer_manual_data_interval") else None


if AIRFLOW_V3:
    from airflow.sdk import BaseOperatorLink
else:  # pragma: no cover - exercised only on Airflow 2
    from airflow.models.baseoperatorlink import BaseOperatorLink  # type: ignore[no-redef]


def xcom_value(ti_key: Any, key: str = "return_value") -> Any:
    """One XCom of a task instance (an operator link's ``ti_key``); ``None`` when it has none."""
    if AIRFLOW_V3:
        from airflow.sdk.execution_time.xcom import XCom
    else:  # pragma: no cover - exercised only on Airflow 2
        from airflow.models.xcom import XCom  # type: ignore[no-redef]
    return XCom.get_value(ti_key=ti_key, key=key)


def __getattr__(name: str) -> Any:
    """``AirflowPlugin``, imported only by the module that needs it (the plugins manager is not a cheap import)."""
    if name == "AirflowPlugin":
        from airflow.plugins_manager import AirflowPlugin

        return AirflowPlugin
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
