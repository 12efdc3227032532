"""Deferrable wait for a DynamoDB export: polls DescribeExport on the triggerer until it leaves IN_PROGRESS.

The amazon provider's ``AwsBaseWaiterTrigger`` needs aiobotocore, which cannot be installed next to this project's
pinned botocore; this trigger runs the (short, non-blocking-in-effect) DescribeExport call in a worker thread instead,
and reports FAILED exports with their ``FailureCode`` / ``FailureMessage`` rather than a waiter error string.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from botocore.exceptions import ClientError

from ddb_lake.compat import TriggerEvent
from ddb_lake.hooks.dynamodb_export import DynamoDBExportHook, error_code, is_transient
from ddb_lake.triggers.base import ConstructorArgumentsTrigger

COMPLETED = "COMPLETED"
FAILED = "FAILED"


class DynamoDBExportTrigger(ConstructorArgumentsTrigger):
    """Fire once the export is COMPLETED (``status=success``), FAILED (``failed``), or after too many polls."""

    def __init__(
        self,
        export_arn: str,
        *,
        waiter_delay: int = 30,
        waiter_max_attempts: int = 480,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict | None = None,
    ) -> None:
        super().__init__()
        self.export_arn = export_arn
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.botocore_config = botocore_config

    def hook(self) -> DynamoDBExportHook:
        return DynamoDBExportHook(
            aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify, config=self.botocore_config
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = self.hook()
        for attempt in range(1, self.waiter_max_attempts + 1):
            try:
                description = await asyncio.to_thread(hook.describe_export, self.export_arn)
            except ClientError as error:
                if not is_transient(error):
                    yield TriggerEvent(self._event("error", message=f"DescribeExport failed: {error}"))
                    return
                self.log.warning("Export %s: transient %s, polling again", self.export_arn, error_code(error))
            else:
                status = description.get("ExportStatus")
                if status == COMPLETED:
                    yield TriggerEvent(self._event("success"))
                    return
                if status == FAILED:
                    yield TriggerEvent(
                        self._event(
                            "failed",
                            failure_code=description.get("FailureCode"),
                            failure_message=description.get("FailureMessage"),
                        )
                    )
                    return
                self.log.info(
                    "Export %s is %s (poll %d of %d)", self.export_arn, status, attempt, self.waiter_max_attempts
                )
            if attempt < self.waiter_max_attempts:
                await asyncio.sleep(self.waiter_delay)
        yield TriggerEvent(
            self._event(
                "timeout",
                message=f"still not finished after {self.waiter_max_attempts} polls {self.waiter_delay}s apart",
            )
        )

    def _event(self, status: str, **fields: Any) -> dict[str, Any]:
        return {"status": status, "export_arn": self.export_arn, **fields}
