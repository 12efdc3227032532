"""Deferrable wait for a DynamoDB export: the amazon provider's ``export_table`` waiter, run on aiobotocore.

The waiter is declared in the provider's ``waiters/dynamodb.json`` (COMPLETED: success, FAILED: failure,
IN_PROGRESS: retry); a client-type ``dynamodb`` hook finds it there. The loop over its polls is ours, not the
provider's ``async_wait``: that one retries its named 5xx codes forever without counting them. Here the polls and the
server errors in a row are counted by ``core.export.waiting.ExportWait`` (the same rule as the sync wait), so a
DescribeExport that keeps failing ends the wait with an ``error`` event after ``max_server_errors``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.providers.amazon.aws.exceptions import (
    WaiterMaxAttemptsError,
    WaiterNoCredentialsError,
    WaiterTerminalFailure,
)
from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger
from botocore.exceptions import WaiterError

from ddb_lake.compat import TriggerEvent
from ddb_lake.core.export.waiting import AGAIN, MAX_SERVER_ERRORS, OUT_OF_POLLS, SERVER_ERRORS, ExportWait

COMPLETED = "COMPLETED"
FAILED = "FAILED"


class DynamoDBExportTrigger(AwsBaseWaiterTrigger):
    """Fire once the export is COMPLETED (``status=success``), FAILED (``failed``), after max polls (``timeout``) or
    after ``max_server_errors`` server errors in a row (``error``).

    Events: ``{"status", "export_arn"}`` plus ``failure_code`` / ``failure_message`` (failed) or ``message``.
    """

    aws_hook_class = AwsBaseHook

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
        max_server_errors: int = MAX_SERVER_ERRORS,
    ) -> None:
        super().__init__(
            serialized_fields={"export_arn": export_arn, "max_server_errors": max_server_errors},
            waiter_name="export_table",
            waiter_args={"ExportArn": export_arn},
            failure_message=f"DynamoDB export {export_arn} failed",
            status_message=f"DynamoDB export {export_arn} is",
            status_queries=["ExportDescription.ExportStatus"],
            return_key="export_arn",
            return_value=export_arn,
            waiter_delay=waiter_delay,
            waiter_max_attempts=waiter_max_attempts,
            aws_conn_id=aws_conn_id,
            region_name=region_name,
            verify=verify,
            botocore_config=botocore_config,
        )
        self.export_arn = export_arn
        self.waiter_max_attempts = waiter_max_attempts
        self.max_server_errors = max_server_errors

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = self.hook()
        async with await hook.get_async_conn() as client:
            waiter = hook.get_waiter(self.waiter_name, deferrable=True, client=client)
            yield TriggerEvent(await self.wait(waiter))

    async def wait(self, waiter: Any) -> dict[str, Any]:
        """Poll once per ``waiter_delay`` until COMPLETED, FAILED, out of polls or too many server errors."""
        progress = ExportWait(self.export_arn, max_polls=self.waiter_max_attempts,
                              max_server_errors=self.max_server_errors)
        while True:
            try:
                await waiter.wait(**self.waiter_args, WaiterConfig={"MaxAttempts": 1})
                return {"status": "success", "export_arn": self.export_arn}
            except WaiterError as error:
                if "terminal failure" in str(error):
                    return export_event(self.export_arn, WaiterTerminalFailure(str(error), error.last_response),
                                        self.waiter_delay, self.waiter_max_attempts)
                step = progress.after(error.last_response)
                if step == SERVER_ERRORS:
                    return {"status": "error", "export_arn": self.export_arn,
                            "message": str(progress.server_errors_error())}
                if step == OUT_OF_POLLS:
                    return export_event(self.export_arn, WaiterMaxAttemptsError("max attempts reached"),
                                        self.waiter_delay, self.waiter_max_attempts)
                if step != AGAIN:
                    return {"status": "error", "export_arn": self.export_arn, "message": str(error)}
            await asyncio.sleep(self.waiter_delay)

    @property
    def _hook_parameters(self) -> dict[str, Any]:
        # A client-type hook: aiobotocore has no resources, and "dynamodb" makes waiter_path the provider's JSON.
        return {**super()._hook_parameters, "client_type": "dynamodb"}


def export_event(export_arn: str, error: Exception, waiter_delay: float, waiter_max_attempts: int) -> dict[str, Any]:
    """The event of a wait that did not succeed: ``failed`` (with the FailureCode), ``timeout`` or ``error``."""
    if isinstance(error, WaiterTerminalFailure):
        description = (error.last_response or {}).get("ExportDescription", {})
        return {
            "status": "failed",
            "export_arn": export_arn,
            "failure_code": description.get("FailureCode"),
            "failure_message": description.get("FailureMessage"),
        }
    if isinstance(error, WaiterMaxAttemptsError) and not isinstance(error, WaiterNoCredentialsError):
        message = f"still not finished after {waiter_max_attempts} polls {waiter_delay}s apart"
        return {"status": "timeout", "export_arn": export_arn, "message": message}
    return {"status": "error", "export_arn": export_arn, "message": str(error)}
