"""Snapshots on moto S3 (Parquet files + LakeSchema) built here, so these tests do not wait on the converter."""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq

from ddb_lake.core.schema.lake_schema import LakeField, LakeSchema, LakeType

LAKE_BUCKET = "lake"
SNAPSHOT = "20261122T000000Z"
SNAPSHOT_PREFIX = f"lake/snapshots/orders/snapshot={SNAPSHOT}"


def _f(name: str, lake_type: LakeType, attribute: str | None = None) -> LakeField:
    return LakeField(name, attribute or name, lake_type)


ORDERS_SCHEMA = LakeSchema(
    (
        _f("pk", LakeType("string"), "PK"),
        _f("sk", LakeType("int64"), "SK"),
        _f("amount", LakeType("decimal", precision=38, scale=9)),  # 38 significant digits: NUMERIC
        _f("price", LakeType("decimal", precision=12, scale=2)),
        _f("exact_text", LakeType("decimal_text")),
        _f("ratio", LakeType("float64")),
        _f("active", LakeType("bool")),
        _f("blob", LakeType("binary")),
        _f("tags", LakeType("list", item=LakeType("string"))),
        _f(
            "address",
            LakeType("struct", fields=(_f("city", LakeType("string")), _f("zip", LakeType("int64")))),
        ),
        _f(
            "lines",
            LakeType(
                "list",
                item=LakeType("struct", fields=(_f("sku", LakeType("string")), _f("qty", LakeType("int64")))),
            ),
        ),
    )
)
BIG = Decimal("12345678901234567890123456789.123456789")  # 38 significant digits, NUMERIC's widest


def order_rows(start: int, count: int) -> list[dict]:
    rows = []
    for i in range(start, start + count):
        rows.append(
            {
                "pk": f"order#{i:05d}",
                "sk": i,
                "amount": BIG - i,
                "price": Decimal(f"{i}.25"),
                "exact_text": f"{10**37 + i}",  # a 38-digit integer kept as exact text
                "ratio": i / 8,
                "active": i % 2 == 0,
                "blob": bytes([i % 256, 255]),
                "tags": [f"t{i % 3}", "x"] if i % 4 else [],
                "address": {"city": f"city{i % 7}", "zip": 10000 + i} if i % 5 else None,
                "lines": [{"sku": f"sku{i}", "qty": i % 9}],
            }
        )
    return rows


def parquet_bytes(rows: list[dict], schema: LakeSchema = ORDERS_SCHEMA) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema.to_arrow()), buf)
    return buf.getvalue()


@dataclass
class Snapshot:
    """A snapshot on S3 in the converter's summary shape."""

    summary: dict
    rows: list[dict]

    @property
    def files(self) -> list[str]:
        return [f["path"] for f in self.summary["files"]]


def s3_client():
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=os.environ["DDB_LAKE_MOTO_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def put_snapshot(
    prefix: str = SNAPSHOT_PREFIX, parts: tuple[int, ...] = (40, 35), snapshot: str = SNAPSHOT
) -> Snapshot:
    """Write Parquet part files (row counts ``parts``) and a _manifest.json to moto S3; return the convert summary."""
    s3 = s3_client()
    s3.create_bucket(Bucket=LAKE_BUCKET)
    files, all_rows, start = [], [], 0
    for index, count in enumerate(parts):
        rows = order_rows(start, count)
        start += count
        data = parquet_bytes(rows)
        key = f"{prefix}/part-{index:05d}.parquet"
        s3.put_object(Bucket=LAKE_BUCKET, Key=key, Body=data)
        files.append({"path": f"s3://{LAKE_BUCKET}/{key}", "rows": count, "bytes": len(data)})
        all_rows.extend(rows)
    summary = {
        "export_id": "01700000000000-abcdef12",
        "export_type": "FULL_EXPORT",
        "items": len(all_rows),
        "files": files,
        "schema": ORDERS_SCHEMA.to_json(),
        "snapshot_prefix": f"s3://{LAKE_BUCKET}/{prefix}",
        "snapshot": snapshot,
        "table_name": "orders",
    }
    s3.put_object(Bucket=LAKE_BUCKET, Key=f"{prefix}/_manifest.json", Body=json.dumps(summary).encode())
    return Snapshot(summary, all_rows)
