"""The slice of a task's run context the BigQuery operators read: XCom of upstream tasks, the DAG id, the interval."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

INTERVAL_END = datetime(2026, 11, 22, tzinfo=timezone.utc)


class XComTI:
    """A task instance that answers ``xcom_pull(task_ids=...)`` from a dict of upstream results."""

    def __init__(self, xcoms: dict[str, Any], dag_id: str = "ddb_lake_orders") -> None:
        self.xcoms = xcoms
        self.dag_id = dag_id

    def xcom_pull(self, task_ids: str, **_: Any) -> Any:
        return self.xcoms.get(task_ids)


def run_context(xcoms: dict[str, Any], end: datetime = INTERVAL_END) -> dict[str, Any]:
    start = end.replace(day=end.day - 1) if end.day > 1 else end
    return {"ti": XComTI(xcoms), "data_interval_start": start, "data_interval_end": end}


def first_event(trigger: Any) -> Any:
    async def collect() -> Any:
        async for event in trigger.run():
            return event
        return None

    return asyncio.run(collect())
