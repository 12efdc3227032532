"""The stand-in's partition shim (scripts/bqemulator_partitions.py): decorated loads and copies write one day."""

from __future__ import annotations

import io
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from bqemulator_partitions import rewrite_pseudo_columns, split_decorator

from ddb_lake.destinations.bigquery.load_hook import BigQueryLoadHook

pytestmark = pytest.mark.integration
DEADLINE = 5.0


def test_split_decorator_and_pseudo_column_rewrite():
    from datetime import date

    assert split_decorator("orders$20261122") == ("orders", date(2026, 11, 22))
    assert split_decorator("orders") is None and split_decorator("orders$2026") is None
    sql = "SELECT 1 FROM t WHERE _PARTITIONDATE = DATE '2026-11-22' AND _partitiontime > x"
    assert rewrite_pseudo_columns(sql) == (
        "SELECT 1 FROM t WHERE CAST(_PARTITIONTIME AS DATE) = DATE '2026-11-22' AND _PARTITIONTIME > x"
    )


@pytest.fixture
def client(bigquery_emulator_host, gcp_project):
    hook = BigQueryLoadHook(api_deadline=DEADLINE)
    return hook.client(gcp_project)


def _parquet(ids: list[int], tag: str) -> io.BytesIO:
    buf = io.BytesIO()
    pq.write_table(pa.table({"id": pa.array(ids, pa.int64()), "tag": [tag] * len(ids)}), buf)
    buf.seek(0)
    return buf


def _per_day(client, table: str) -> dict[str, tuple[int, str]]:
    sql = f"SELECT CAST(_PARTITIONDATE AS STRING) AS day, COUNT(*) AS n, MIN(tag) AS tag FROM `{table}` GROUP BY 1"
    return {r["day"]: (r["n"], r["tag"]) for r in client.query(sql, job_retry=None).result()}


def test_decorated_truncate_replaces_exactly_one_day(client, gcp_project):
    from google.cloud import bigquery

    dataset = f"{gcp_project}.shim_{uuid.uuid4().hex[:8]}"
    client.create_dataset(dataset)
    table = bigquery.Table(f"{dataset}.orders", schema=[bigquery.SchemaField("id", "INT64"),
                                                         bigquery.SchemaField("tag", "STRING")])
    table.time_partitioning = bigquery.TimePartitioning(type_="DAY")
    client.create_table(table)

    def load(day: str, ids: list[int], tag: str, disposition: str = "WRITE_TRUNCATE") -> None:
        config = bigquery.LoadJobConfig(source_format="PARQUET", write_disposition=disposition)
        client.load_table_from_file(_parquet(ids, tag), f"{dataset}.orders${day}", job_config=config).result()

    load("20261121", [1, 2, 3], "a")
    load("20261122", [4, 5], "b")
    assert _per_day(client, f"{dataset}.orders") == {"2026-11-21": (3, "a"), "2026-11-22": (2, "b")}

    load("20261122", [6], "c")  # truncate of one day: the other day is untouched
    assert _per_day(client, f"{dataset}.orders") == {"2026-11-21": (3, "a"), "2026-11-22": (1, "c")}
    load("20261122", [7, 8], "d", "WRITE_APPEND")
    assert _per_day(client, f"{dataset}.orders") == {"2026-11-21": (3, "a"), "2026-11-22": (3, "c")}

    # A copy job from a plain table into a decorator: WRITE_TRUNCATE of that day only.
    client.load_table_from_file(
        _parquet([9, 10, 11, 12], "e"), f"{dataset}.stage",
        job_config=bigquery.LoadJobConfig(
            source_format="PARQUET", schema=[bigquery.SchemaField("id", "INT64"), bigquery.SchemaField("tag", "STRING")]
        ),
    ).result()
    copy = bigquery.CopyJobConfig(write_disposition="WRITE_TRUNCATE")
    job = client.copy_table(f"{dataset}.stage", f"{dataset}.orders$20261121", job_config=copy)
    job.result()
    assert _per_day(client, f"{dataset}.orders") == {"2026-11-21": (4, "e"), "2026-11-22": (3, "c")}
    assert client.get_table(f"{dataset}.orders").num_rows == 7
    # The table's BigQuery schema does not show the shim's partition column.
    assert [f.name for f in client.get_table(f"{dataset}.orders").schema] == ["id", "tag"]


def test_schema_updates_reach_the_stored_table_and_ddl_types_reach_the_schema(client, gcp_project):
    """A schema patch adds columns/members to the stored rows; ALTER COLUMN SET DATA TYPE shows in tables.get."""
    from google.cloud import bigquery

    dataset = f"{gcp_project}.shim_{uuid.uuid4().hex[:8]}"
    client.create_dataset(dataset)
    record = bigquery.SchemaField("s", "RECORD", fields=[bigquery.SchemaField("a", "INT64")])
    table = client.create_table(bigquery.Table(f"{dataset}.t", schema=[bigquery.SchemaField("n", "INT64"), record]))
    client.query(f"INSERT INTO `{dataset}.t` (n, s) VALUES (7, STRUCT(1 AS a))", job_retry=None).result()

    wider = bigquery.SchemaField("s", "RECORD", fields=[bigquery.SchemaField("a", "INT64"),
                                                         bigquery.SchemaField("b", "STRING")])
    table.schema = [bigquery.SchemaField("n", "INT64"), wider, bigquery.SchemaField("c", "STRING")]
    client.update_table(table, ["schema"])
    client.query(f"ALTER TABLE `{dataset}.t` ALTER COLUMN n SET DATA TYPE NUMERIC", job_retry=None).result()

    schema = client.get_table(f"{dataset}.t").schema
    assert [(f.name, f.field_type) for f in schema] == [("n", "NUMERIC"), ("s", "RECORD"), ("c", "STRING")]
    rows = list(client.query(f"SELECT n, s.a AS a, s.b AS b, c FROM `{dataset}.t`", job_retry=None).result())
    assert [dict(r.items()) for r in rows] == [{"n": 7, "a": 1, "b": None, "c": None}]
