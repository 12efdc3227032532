"""Tables without PITR holding items of every DynamoDB type, and readers of a scan export and its Parquet, for the
scan-export tests (an independent decoding: ``tests/core/ddb_reference.py``)."""

from __future__ import annotations

import gzip
import io
import json
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

REPO_ROOT = Path(__file__).resolve().parents[2]
for folder in ("scripts", "tests/core", "tests/iceberg"):
    sys.path.insert(0, str(REPO_ROOT / folder))

import seed_demo  # noqa: E402
from ddb_reference import lake_to_plain, plain, strip_null_members  # noqa: E402
from item_compare import SET_TAGS, client_plain, set_attributes_of, sort_key, sorted_items  # noqa: E402

__all__ = ["client_plain", "sorted_items"]


def export_plain(value: dict[str, Any]) -> Any:
    """A value as export JSON holds it (binary as base64) in the reference form; sets sorted."""
    decoded = plain(value)
    return sorted(decoded) if next(iter(value)) in SET_TAGS else decoded


def create_table_without_pitr(dynamodb: Any, name: str, items: int, *, read_capacity: int | None = None) -> None:
    """The demo's orders table (``pk``/``sk``, every type) without point-in-time recovery; on-demand unless
    ``read_capacity`` makes it provisioned."""
    billing: dict[str, Any] = {"BillingMode": "PAY_PER_REQUEST"}
    if read_capacity:
        billing = {"BillingMode": "PROVISIONED",
                   "ProvisionedThroughput": {"ReadCapacityUnits": read_capacity, "WriteCapacityUnits": 1000}}
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        **billing,
    )
    seed_demo.put_items(dynamodb, name, items)


def table_items(dynamodb: Any, name: str) -> list[dict[str, Any]]:
    """Every item by a plain paginated Scan (what the export must hold)."""
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=name):
        items.extend(page["Items"])
    return items


def export_items(s3: Any, bucket: str, folder_key: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the items of every data file manifest-files.json lists, its entries) of an export folder."""
    body = s3.get_object(Bucket=bucket, Key=f"{folder_key}/manifest-files.json")["Body"].read().decode()
    entries = [json.loads(line) for line in body.splitlines() if line.strip()]
    items = []
    for entry in entries:
        data = gzip.decompress(s3.get_object(Bucket=bucket, Key=entry["dataFileS3Key"])["Body"].read())
        items.extend(json.loads(line)["Item"] for line in data.decode().splitlines())
    return items, entries


def parquet_items(s3: Any, bucket: str, summary: dict[str, Any], sets: frozenset[str]) -> list[dict[str, Any]]:
    """Every row the converter wrote, back in the reference form (sets sorted, nulls dropped), sorted by key."""
    fields = summary["schema"]["fields"]
    out = []
    for file in summary["files"]:
        body = s3.get_object(Bucket=bucket, Key=file["path"].removeprefix(f"s3://{bucket}/"))["Body"].read()
        for row in pq.read_table(io.BytesIO(body)).to_pylist():
            item = {f["attribute"]: lake_to_plain(row[f["name"]], f["type"]) for f in fields}
            for name in sets:
                if item.get(name) is not None:
                    item[name] = sorted(item[name])
            out.append(strip_null_members(item))
    return sorted(out, key=sort_key)


def sets_of(items: list[dict[str, Any]]) -> frozenset[str]:
    return set_attributes_of(items)
