"""What readers see, asked over clean connections (straight to moto, the Athena stand-in and bqemulator, never
through the fault proxy): the Glue current table, the lake's snapshot folders, Athena counts, BigQuery tables."""

from __future__ import annotations

import os
import time
from typing import Any

import boto3

REGION = "us-east-1"


def client(kind: str) -> Any:
    """A reader's boto3 client: Athena at its stand-in, everything else at moto (Glue without the version lock)."""
    url = os.environ["DDB_LAKE_ATHENA_URL"] if kind == "athena" else os.environ["DDB_LAKE_MOTO_URL"]
    return boto3.client(kind, endpoint_url=url, region_name=REGION, aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def current_snapshot(database: str, table: str) -> str | None:
    """The snapshot the Glue current table reads (``snapshot=<stamp>`` of its attempt folder), None when no table."""
    glue = client("glue")
    try:
        found = glue.get_table(DatabaseName=database, Name=table)["Table"]
    except glue.exceptions.EntityNotFoundException:
        return None
    return snapshot_segment(found["StorageDescriptor"]["Location"])


def snapshot_segment(location: str) -> str:
    """``snapshot=<stamp>`` of a location (an attempt folder below it, or the folder itself); else its last folder."""
    parts = location.rstrip("/").split("/")
    return next((part for part in reversed(parts) if part.startswith("snapshot=")), parts[-1])


def keys(bucket: str, prefix: str = "") -> dict[str, str]:
    """key -> ETag of every object under ``prefix``."""
    s3 = client("s3")
    found: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found.update({o["Key"]: o["ETag"] for o in page.get("Contents", [])})
    return found


def snapshot_folders(bucket: str, prefix: str) -> dict[str, list[str]]:
    """``snapshot=<stamp>`` -> sorted file names, for every snapshot folder under ``prefix``."""
    folders: dict[str, list[str]] = {}
    for key in keys(bucket, prefix):
        rest = key[len(prefix):].lstrip("/")
        if rest.startswith("snapshot=") and "/" in rest:
            folder, name = rest.split("/", 1)
            folders.setdefault(folder, []).append(name)
    return {folder: sorted(names) for folder, names in sorted(folders.items())}


def athena(sql: str, database: str, output: str) -> list[list[str | None]]:
    """Run ``sql`` on the Athena stand-in; the data rows (header dropped). Fails on a query that does not succeed."""
    athena_client = client("athena")
    query_id = athena_client.start_query_execution(
        QueryString=sql, QueryExecutionContext={"Database": database}, ResultConfiguration={"OutputLocation": output}
    )["QueryExecutionId"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = athena_client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        if status["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        time.sleep(0.2)
    assert status["State"] == "SUCCEEDED", (sql, status)
    rows = athena_client.get_query_results(QueryExecutionId=query_id)["ResultSet"]["Rows"][1:]
    return [[cell.get("VarCharValue") for cell in row["Data"]] for row in rows]


def athena_count(database: str, table: str, output: str) -> int:
    return int(athena(f"SELECT COUNT(*) FROM {table}", database, output)[0][0])


def bigquery_counts(project: str, dataset: str) -> dict[str, int]:
    """table id -> rows for every table consumers read; a day-partitioned table gives ``<table>$<YYYYMMDD>`` -> rows."""
    from google.api_core.retry import Retry
    from google.cloud import bigquery

    bq = bigquery.Client(project=project, credentials=_anonymous())
    counts = {}
    for table in bq.list_tables(f"{project}.{dataset}", retry=Retry(deadline=15)):
        name = f"{project}.{dataset}.{table.table_id}"
        if table.table_type != "TABLE" or "__stage_" in table.table_id:
            continue  # the contract view and staging tables are not what consumers read
        if bq.get_table(name).time_partitioning is None:
            counts[table.table_id] = next(iter(bq.query(f"SELECT COUNT(*) AS n FROM `{name}`").result()))["n"]
            continue
        rows = bq.query(
            f"SELECT FORMAT_DATE('%Y%m%d', _PARTITIONDATE) AS day, COUNT(*) AS n FROM `{name}` GROUP BY day"
        )
        counts.update({f"{table.table_id}${row['day']}": row["n"] for row in rows.result()})
    return counts


def bigquery_datasets(project: str) -> list[str]:
    from google.cloud import bigquery

    bq = bigquery.Client(project=project, credentials=_anonymous())
    return sorted(d.dataset_id for d in bq.list_datasets(project))


def _anonymous():
    from google.auth.credentials import AnonymousCredentials

    return AnonymousCredentials()
