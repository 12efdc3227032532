"""Deferrable wait for one BigQuery job: polls its state from the triggerer until it is DONE."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from ddb_lake.compat import TriggerEvent
from ddb_lake.triggers.base import ConstructorArgumentsTrigger


class BigQueryJobTrigger(ConstructorArgumentsTrigger):
    """Fires ``{"status": "success" | "error", "job_id", "message"}`` once the job is DONE (or its state is unknown)."""

    def __init__(
        self,
        job_id: str,
        project_id: str,
        location: str | None = None,
        gcp_conn_id: str = "google_cloud_default",
        poll_interval: float = 10.0,
        api_deadline: float = 120.0,
    ) -> None:
        super().__init__()
        self.job_id = job_id
        self.project_id = project_id
        self.location = location
        self.gcp_conn_id = gcp_conn_id
        self.poll_interval = poll_interval
        self.api_deadline = api_deadline

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from ddb_lake.destinations.bigquery.load_hook import BigQueryLoadHook

        hook = BigQueryLoadHook(gcp_conn_id=self.gcp_conn_id, location=self.location, api_deadline=self.api_deadline)
        while True:
            try:
                status = await asyncio.to_thread(hook.job_status, self.project_id, self.job_id)
            except Exception as exc:
                yield TriggerEvent({"status": "error", "job_id": self.job_id, "message": str(exc)})
                return
            if status["state"] == "DONE":
                ok = status["error"] is None
                message = "done" if ok else f"BigQuery job {self.job_id} failed: {status['error']} {status['errors']}"
                yield TriggerEvent({"status": "success" if ok else "error", "job_id": self.job_id, "message": message})
                return
            self.log.info("BigQuery job %s is %s; next check in %ss", self.job_id, status["state"], self.poll_interval)
            await asyncio.sleep(self.poll_interval)
