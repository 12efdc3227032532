"""Fixtures for the export tests: boto3 clients on the moto server, tables with PITR, a DAG and its run context."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

LAKE_BUCKET = "lake"
REGION = "us-east-1"


@dataclass
class Aws:
    """boto3 clients on the test's moto server (what the test uses to set up and to check, not the code under test)."""

    dynamodb: Any
    s3: Any

    def create_table(self, name: str, *, pitr: bool = True, items: list[dict] | None = None) -> datetime | None:
        """Create a table with a string key ``pk``, optionally enable PITR, put items; return EarliestRestorable."""
        self.dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for item in items or []:
            self.dynamodb.put_item(TableName=name, Item=item)
        if not pitr:
            return None
        self.dynamodb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
        pitr_info = self.dynamodb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"][
            "PointInTimeRecoveryDescription"
        ]
        return pitr_info["EarliestRestorableDateTime"].astimezone(UTC)

    def table_arn(self, name: str) -> str:
        return self.dynamodb.describe_table(TableName=name)["Table"]["TableArn"]

    def export_arns(self, name: str) -> list[str]:
        return [s["ExportArn"] for s in self.dynamodb.list_exports(TableArn=self.table_arn(name))["ExportSummaries"]]

    def keys(self, bucket: str, prefix: str) -> list[str]:
        response = self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
        return sorted(obj["Key"] for obj in response.get("Contents", []))


@pytest.fixture
def aws(moto_reset: str) -> Aws:
    """A clean moto account with the lake bucket; the Airflow ``aws_default`` connection points at the same server."""
    options = {
        "endpoint_url": moto_reset,
        "region_name": REGION,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    clients = Aws(dynamodb=boto3.client("dynamodb", **options), s3=boto3.client("s3", **options))
    clients.s3.create_bucket(Bucket=LAKE_BUCKET)
    return clients


@pytest.fixture
def dag():
    from ddb_lake.compat import DAG

    return DAG("ddb_lake_export_test", schedule="@daily", start_date=datetime(2026, 1, 1, tzinfo=UTC))


@pytest.fixture
def context_for():
    return run_context


@pytest.fixture
def trigger_event():
    return first_event


def run_context(dag, task, start: datetime, end: datetime) -> dict[str, Any]:
    """The part of a task's run context the operators read: the DAG, the task and the data interval."""
    return {
        "dag": dag,
        "task": task,
        "data_interval_start": start,
        "data_interval_end": end,
        "logical_date": start,
        "ds": start.strftime("%Y-%m-%d"),
        "params": dict(getattr(task, "params", {}) or {}),
    }


def first_event(trigger) -> Any:
    """Run a trigger the way the triggerer does (in an event loop) and return its first event."""

    async def collect():
        async for event in trigger.run():
            return event
        raise AssertionError(f"{trigger!r} ended without an event")

    return asyncio.run(collect())
