"""Deferrable wait for a Glue crawler to be READY again, reporting its LastCrawl."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from ddb_lake.compat import TriggerEvent
from ddb_lake.triggers.base import ConstructorArgumentsTrigger


class GlueCrawlerReadyTrigger(ConstructorArgumentsTrigger):
    """Poll GetCrawler until the crawler is READY; the event carries the LastCrawl report.

    The boto3 call runs in a worker thread (the stack has no aiobotocore), so the triggerer's loop never blocks.
    Event: ``{"status": "success" | "timeout" | "error", "crawler_name", "report", "message"}``.
    """

    def __init__(
        self,
        crawler_name: str,
        *,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        poll_interval: float = 5.0,
        timeout: float = 3600.0,
    ) -> None:
        super().__init__()
        self.crawler_name = crawler_name
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.poll_interval = poll_interval
        self.timeout = timeout

    def _hook(self) -> Any:
        from ddb_lake.hooks.lake_catalog import LakeCatalogHook

        return LakeCatalogHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = self._hook()
        deadline = time.monotonic() + self.timeout
        event: dict[str, Any] = {"crawler_name": self.crawler_name}
        while True:
            try:
                report = await asyncio.to_thread(hook.crawl_report, self.crawler_name)
            except Exception as error:
                yield TriggerEvent({**event, "status": "error", "report": None, "message": str(error)})
                return
            if report["state"] == "READY":
                yield TriggerEvent({**event, "status": "success", "report": report, "message": ""})
                return
            if time.monotonic() > deadline:
                message = f"Glue crawler {self.crawler_name} still {report['state']} after {self.timeout:.0f}s"
                yield TriggerEvent({**event, "status": "timeout", "report": report, "message": message})
                return
            self.log.info("Glue crawler %s is %s", self.crawler_name, report["state"])
            await asyncio.sleep(self.poll_interval)
