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

from ddb_lake.compat import TriggerEvent
from ddb_lake.core.export.waiting import AGAIN, MAX_SERVER_ERRORS, OUT_OF_POLLS, SERVER_ERRORS, ExportWait
from ddb_lake.triggers.base import ConstructorArgumentsTrigger

COMPLETED = "COMPLETED"
FAILED = "FAILED"


class DynamoDBExportTrigger(ConstructorArgumentsTrigger):
    """Fire once the export is COMPLETED (``status=success``), FAILED (``failed``), after max polls (``timeout``) or
    after ``max_server_errors`` server errors in a row (``error``).

    Events: ``{"status", "export_arn"}`` plus ``failure_code`` / ``failure_message`` (failed) or ``message``.

    The triggerer imports this module and runs ``run()`` in its event loop, which every other trigger shares: the
    module imports no boto3/botocore (about 1 s), and the hook, the aiobotocore client (about 2 s of imports) and the
    waiter model are built in worker threads. The first poll comes one ``waiter_delay`` after deferring: a trigger
    that fires within about 2 s can have its task marked failed by Airflow 3.3 (apache/airflow#71580, #72716).
    """

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
        super().__init__()
        self.export_arn = export_arn
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.botocore_config = botocore_config
        self.max_server_errors = max_server_errors

    def hook(self) -> Any:
        """A client-type ``dynamodb`` hook: aiobotocore has no resources, and it finds the provider's waiter JSON."""
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        return AwsBaseHook(aws_conn_id=self.aws_conn_id, client_type="dynamodb", region_name=self.region_name,
                           verify=self.verify, config=self.botocore_config)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        await asyncio.sleep(self.waiter_delay)  # the first poll after one interval (see the class docstring)
        hook = await asyncio.to_thread(self.hook)
        async with await hook.get_async_conn() as client:
            waiter = await asyncio.to_thread(hook.get_waiter, "export_table", deferrable=True, client=client)
            yield TriggerEvent(await self.wait(waiter))

    async def wait(self, waiter: Any) -> dict[str, Any]:
        """Poll once per ``waiter_delay`` until COMPLETED, FAILED, out of polls or too many server errors."""
        from airflow.providers.amazon.aws.exceptions import WaiterMaxAttemptsError, WaiterTerminalFailure
        from botocore.exceptions import WaiterError

        progress = ExportWait(self.export_arn, max_polls=self.waiter_max_attempts,
                              max_server_errors=self.max_server_errors)
        while True:
            try:
                await waiter.wait(ExportArn=self.export_arn, WaiterConfig={"MaxAttempts": 1})
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


def export_event(export_arn: str, error: Exception, waiter_delay: float, waiter_max_attempts: int) -> dict[str, Any]:
    """The event of a wait that did not succeed: ``failed`` (with the FailureCode), ``timeout`` or ``error``."""
    from airflow.providers.amazon.aws.exceptions import (
        WaiterMaxAttemptsError,
        WaiterNoCredentialsError,
        WaiterTerminalFailure,
    )

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
