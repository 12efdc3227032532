"""Deferrable wait for a DynamoDB export: the amazon provider's ``export_table`` waiter, run on aiobotocore.

The waiter is declared in the provider's ``waiters/dynamodb.json`` (COMPLETED: success, FAILED: failure,
IN_PROGRESS: retry); a client-type ``dynamodb`` hook finds it there. Throttling and 5xx answers are retried by botocore
inside each poll and, for the provider's retriable error codes, by the waiter loop without counting an attempt.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.exceptions import (
    WaiterMaxAttemptsError,
    WaiterNoCredentialsError,
    WaiterTerminalFailure,
)
from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger

from ddb_lake.compat import AirflowException, TriggerEvent

COMPLETED = "COMPLETED"
FAILED = "FAILED"


class DynamoDBExportTrigger(AwsBaseWaiterTrigger):
    """Fire once the export is COMPLETED (``status=success``), FAILED (``failed``) or after max polls (``timeout``).

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
    ) -> None:
        super().__init__(
            serialized_fields={"export_arn": export_arn},
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

    @property
    def _hook_parameters(self) -> dict[str, Any]:
        # A client-type hook: aiobotocore has no resources, and "dynamodb" makes waiter_path the provider's JSON.
        return {**super()._hook_parameters, "client_type": "dynamodb"}

    def _event_from_exception(self, error: AirflowException) -> TriggerEvent:
        return TriggerEvent(export_event(self.export_arn, error, self.waiter_delay, self.waiter_max_attempts))


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
