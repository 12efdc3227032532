"""Helpers for the catalog tests: a clean moto account, boto3 clients for checking, snapshots written with pyarrow."""

from __future__ import annotations

import io
import json
import os
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq

from ddb_lake.core.convert.export_writer import item_line, write_export
from ddb_lake.core.lake.layout import TableLayout, attempt_url, attempts_key, parse_stamp
from ddb_lake.core.schema.lake_schema import LakeField, LakeSchema, LakeType

BUCKET = "lake"
DATABASE = "ddb_lake"
TABLE = "orders"

SCHEMA_V1 = LakeSchema(
    (
        LakeField("pk", "PK", LakeType("string")),
        LakeField("qty", "qty", LakeType("int64")),
        LakeField("amount", "amount", LakeType("decimal", precision=10, scale=2)),
    )
)
SCHEMA_V2 = LakeSchema((*SCHEMA_V1.fields, LakeField("note", "note", LakeType("string"))))


@dataclass
class Lake:
    """The moto account of one test: clients to check state with, and a writer of converted snapshots."""

    url: str
    s3: Any
    glue: Any
    athena: Any
    layout: TableLayout

    def write_snapshot(self, stamp: str, rows: list[dict[str, Any]], schema: LakeSchema = SCHEMA_V1,
                       attempt: str | None = None) -> dict[str, Any]:
        """Write ``part-00000.parquet`` and ``_manifest.json`` as the converter would; return the convert summary.

        :param attempt: write the attempt folder ``_attempts/snapshot=<stamp>/attempt=<attempt>`` (the DAG's way)
            instead of the fixed ``snapshot=<stamp>`` folder.
        """
        prefix = self.layout.snapshot_prefix(parse_stamp(stamp))
        if attempt is not None:
            prefix = attempt_url(attempts_key(prefix), attempt)
        arrow_schema = schema.to_arrow()
        table = pa.Table.from_pylist(rows, schema=arrow_schema)
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        body = buffer.getvalue()
        self.s3.put_object(Bucket=BUCKET, Key=f"{prefix}/part-00000.parquet", Body=body)
        summary = {
            "export_id": f"export-{stamp}",
            "items": len(rows),
            "files": [{"path": "part-00000.parquet", "rows": len(rows), "bytes": len(body)}],
            "schema": schema.to_json(),
        }
        self.s3.put_object(Bucket=BUCKET, Key=f"{prefix}/_manifest.json", Body=json.dumps(summary).encode())
        return {**summary, "snapshot_prefix": prefix, "snapshot": stamp}

    def create_dynamodb_table(self) -> None:
        """The DynamoDB table (``pk`` key): the validator shows DescribeTable's ItemCount; items are in the exports."""
        client = boto3.client("dynamodb", endpoint_url=self.url, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        client.create_table(TableName=TABLE, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                            BillingMode="PAY_PER_REQUEST")

    def upload_export(self, local_root: Path, export_id: str, key_prefix: str, files: list[list[dict]]) -> dict:
        """A finished export's folder ``<key_prefix>/AWSDynamoDB/<export_id>/`` in S3 (one data file per list of
        items), and the export task's result naming it."""
        local = write_export(local_root / "AWSDynamoDB" / export_id, [[item_line(i) for i in f] for f in files])
        prefix = f"{key_prefix}/AWSDynamoDB/{export_id}"
        for path in local.rglob("*"):
            if path.is_file():
                self.s3.put_object(Bucket=BUCKET, Key=f"{prefix}/{path.relative_to(local)}", Body=path.read_bytes())
        return {"export_arn": f"arn:aws:dynamodb:us-east-1:123456789012:table/{TABLE}/export/{export_id}",
                "table_name": TABLE, "export_folder": f"s3://{BUCKET}/{prefix}/",
                "item_count": sum(len(f) for f in files)}

    def keys(self, prefix: str) -> list[str]:
        answer = self.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
        return sorted(o["Key"] for o in answer.get("Contents", []))

    def moto_api(self, path: str, payload: dict[str, Any]) -> None:
        request = urllib.request.Request(
            f"{self.url}{path}", data=json.dumps(payload).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=10)

    def finish_crawls_after(self, seconds: int) -> None:
        """moto's crawler stays RUNNING until a time transition is set for it."""
        transition = {"progression": "time", "seconds": seconds}
        self.moto_api("/moto-api/state-manager/set-transition", {"model_name": "glue::crawl", "transition": transition})


def new_lake(moto_reset: str) -> Lake:
    """Create the lake bucket in a freshly reset moto account."""
    options = {"endpoint_url": moto_reset, "region_name": "us-east-1", "aws_access_key_id": "testing",
               "aws_secret_access_key": "testing"}
    s3 = boto3.client("s3", **options)
    s3.create_bucket(Bucket=BUCKET)
    # Athena calls go where aws_default sends them: the Athena stand-in when the stack runs it, else moto.
    athena_options = {**options, "endpoint_url": os.environ.get("DDB_LAKE_ATHENA_URL", moto_reset)}
    return Lake(moto_reset, s3, boto3.client("glue", **options), boto3.client("athena", **athena_options),
                TableLayout(BUCKET, "mirror", TABLE))


def rows(count: int, start: int = 0) -> list[dict[str, Any]]:
    from decimal import Decimal

    return [{"pk": f"order-{i}", "qty": i, "amount": Decimal(f"{i}.25")} for i in range(start, start + count)]


def stamp_of(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")
