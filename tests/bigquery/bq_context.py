"""The slice of a task's run context the BigQuery operators read: the task instance (DAG id, try) and the interval."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

INTERVAL_END = datetime(2026, 11, 22, tzinfo=UTC)


class RunTI:
    """A task instance as the operators see it: its DAG id and try number (they pull no XCom)."""

    def __init__(self, dag_id: str = "ddb_lake_orders", try_number: int = 1) -> None:
        self.dag_id = dag_id
        self.try_number = try_number


def run_context(end: datetime = INTERVAL_END) -> dict[str, Any]:
    start = end.replace(day=end.day - 1) if end.day > 1 else end
    return {"ti": RunTI(), "data_interval_start": start, "data_interval_end": end}


def first_event(trigger: Any) -> Any:
    async def collect() -> Any:
        async for event in trigger.run():
            return event
        return None

    return asyncio.run(collect())
