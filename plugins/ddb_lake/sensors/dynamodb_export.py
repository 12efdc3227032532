"""Wait for a DynamoDB export started elsewhere (poke, reschedule or deferrable)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from botocore.exceptions import ClientError

from ddb_lake.compat import Context
from ddb_lake.core.export.failures import (
    COMPLETED,
    ExportFailedError,
    error_code,
    is_transient,
    raise_for_export_event,
    raise_if_failed,
)
from ddb_lake.core.export.folders import table_name_of
from ddb_lake.hooks.dynamodb_export import DynamoDBExportHook
from ddb_lake.operators.base import ClassifiedErrors, airflow_error
from ddb_lake.triggers.dynamodb_export import DynamoDBExportTrigger

DEFAULT_TIMEOUT_SECONDS = 6 * 60 * 60


class DynamoDBExportSensor(ClassifiedErrors, AwsBaseSensor[DynamoDBExportHook]):
    """Succeed when the export is COMPLETED; fail with its FailureCode/FailureMessage when it is FAILED."""

    template_fields: Sequence[str] = ("export_arn",)
    ui_color = "#4d9de0"
    aws_hook_class = DynamoDBExportHook

    def __init__(
        self,
        *,
        export_arn: str,
        deferrable: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("timeout", DEFAULT_TIMEOUT_SECONDS)
        kwargs.setdefault("poke_interval", 30)
        super().__init__(**kwargs)
        self.export_arn = export_arn
        self.deferrable = deferrable

    def poke(self, context: Context) -> bool:
        """True once COMPLETED; False while running or after a transient error; raises when FAILED.

        The FAILED error becomes AirflowFailException here, not in ``execute``, so ``soft_fail`` applies to it and
        ``silent_fail`` does not keep poking it.
        """
        try:
            description = self.hook.describe_export(self.export_arn)
        except ClientError as error:
            if is_transient(error):
                self.log.warning("Export %s: transient %s, poking again later", self.export_arn, error_code(error))
                return False
            raise
        status = description.get("ExportStatus")
        self.log.info("Export %s is %s", self.export_arn, status)
        try:
            raise_if_failed(description, table_name_of(description.get("TableArn")), restartable=False)
        except ExportFailedError as failure:
            raise airflow_error(failure) from failure  # type: ignore[misc]  # a TerminalError always maps
        return status == COMPLETED

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        if self.poke(context):
            return None
        self.defer(
            trigger=DynamoDBExportTrigger(
                self.export_arn,
                waiter_delay=int(self.poke_interval),
                waiter_max_attempts=max(1, math.ceil(self.timeout / self.poke_interval)),
                aws_conn_id=self.aws_conn_id,
                region_name=self.region_name,
                verify=self.verify,
                botocore_config=self.botocore_config,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )
        return None

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> None:
        raise_for_export_event(event, restartable=False)
        self.log.info("Export %s completed", self.export_arn)
