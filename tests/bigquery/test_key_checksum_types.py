"""The key checksum over every lake type a DynamoDB key takes: the Parquet side and BigQuery's SQL agree.

Keys: number keys that are not plain integers (1.5), beyond int64 (29 digits, NUMERIC; 10**30 as exact decimal
text), and binary keys (b"\\x00\\xff", b""). bqemulator keeps a NUMERIC column's scale when casting to STRING
(``1.500000000``) where BigQuery drops trailing zeros; the SQL strips them, so both give ``key_part_text``'s text.
BIGNUMERIC (a decimal with more than 29 integer digits) cannot be created on bqemulator: its SQL is checked offline.
"""

from __future__ import annotations

import io
import uuid
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot

from ddb_lake.core.schema.lake_schema import LakeField, LakeSchema, LakeType
from ddb_lake.core.validation.row_counts import key_checksum_of_batches, key_part_text, key_text
from ddb_lake.destinations.bigquery.count_sql import key_checksum_sql
from ddb_lake.destinations.bigquery.load_hook import BigQueryLoadHook
from ddb_lake.destinations.bigquery.schema import bigquery_fields

SCHEMA = LakeSchema((
    LakeField("pk", "pk", LakeType("string")),
    LakeField("sk_decimal", "skd", LakeType("decimal", precision=4, scale=2)),
    LakeField("sk_wide", "skw", LakeType("decimal", precision=29, scale=0)),
    LakeField("sk_text", "skt", LakeType("decimal_text")),
    LakeField("sk_int", "ski", LakeType("int64")),
    LakeField("raw", "raw", LakeType("binary")),
))
ROWS = [
    {"pk": "a", "sk_decimal": Decimal("1.5"), "sk_wide": Decimal(12345678901234567890123456789),
     "sk_text": str(10**30), "sk_int": -(2**63), "raw": b"\x00\xff"},
    {"pk": "b", "sk_decimal": Decimal("-2"), "sk_wide": Decimal(-(10**28)), "sk_text": "1.5", "sk_int": 0,
     "raw": b""},
    {"pk": "c", "sk_decimal": Decimal("0"), "sk_wide": Decimal(0), "sk_text": "-0.000001", "sk_int": 2**63 - 1,
     "raw": b"abc"},
    {"pk": "d", "sk_decimal": Decimal("10.25"), "sk_wide": Decimal(9), "sk_text": "1E-130", "sk_int": 7,
     "raw": bytes(range(16))},
]


def test_key_text_of_every_key_type_is_exact():
    assert [key_part_text(v) for v in (Decimal("1.50"), Decimal("100"), Decimal("100.00"), Decimal("-0.50"),
                                        Decimal("0.000"), Decimal(10**30), Decimal("1E+2"))] == [
        "1.5", "100", "100", "-0.5", "0", "1000000000000000000000000000000", "100"]
    assert key_text(["order#1", Decimal("1.50"), 123456789012345678901234567890, b"\x00\xff", None]) == (
        "order#1|1.5|123456789012345678901234567890|00ff|")
    assert key_text([str(10**30), "1.5", -(2**63), True]) == (
        "1000000000000000000000000000000|1.5|-9223372036854775808|true")


def test_bignumeric_key_sql_is_the_decimal_text_expression():
    sql = key_checksum_sql("`p.d.t`", [("pk", "STRING"), ("sk", "BIGNUMERIC")])
    assert sqlglot.parse_one(sql, read="bigquery") is not None
    assert ("COALESCE(IF(STRPOS(CAST(`sk` AS STRING), '.') > 0, RTRIM(RTRIM(CAST(`sk` AS STRING), '0'), '.'), "
            "CAST(`sk` AS STRING)), '')") in sql
    with pytest.raises(ValueError, match="numbers='float'"):
        key_checksum_sql("`t`", [("ratio", "FLOAT64")])


@pytest.mark.integration
@pytest.mark.parametrize("keys", [["pk"], ["sk_decimal"], ["sk_wide"], ["sk_text"], ["sk_int"], ["raw"],
                                  ["pk", "sk_decimal", "sk_wide", "sk_text", "sk_int", "raw"]])
def test_parquet_and_bigquery_agree_on_every_key_type(gcp_project, bigquery_emulator_host, loaded_keys, keys):
    table_id, table = loaded_keys
    hook = BigQueryLoadHook(api_deadline=5.0)
    types = {f["name"]: f["type"] for f in bigquery_fields(SCHEMA)}
    sql = key_checksum_sql(f"`{table_id}`", [(k, types[k]) for k in keys])
    row = dict(next(iter(hook.client(gcp_project).query(sql, retry=hook.retry, job_retry=None).result())).items())
    assert (row["row_count"], row["key_sum"]) == key_checksum_of_batches(table.to_batches(), keys)


@pytest.fixture(scope="module")
def loaded_keys(gcp_project, bigquery_emulator_host):
    """ROWS written as the converter writes Parquet, loaded into a bqemulator table of the mapped schema."""
    from google.cloud import bigquery

    table = pa.Table.from_pylist(ROWS, schema=SCHEMA.to_arrow())
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    buffer.seek(0)
    hook = BigQueryLoadHook(api_deadline=5.0)
    client = hook.client(gcp_project)
    dataset = f"keys_{uuid.uuid4().hex[:8]}"
    client.create_dataset(f"{gcp_project}.{dataset}", retry=hook.retry)
    fields = [bigquery.SchemaField.from_api_repr(f) for f in bigquery_fields(SCHEMA)]
    assert [f.field_type for f in fields] == ["STRING", "NUMERIC", "NUMERIC", "STRING", "INT64", "BYTES"]
    table_id = f"{gcp_project}.{dataset}.keys"
    client.create_table(bigquery.Table(table_id, schema=fields), retry=hook.retry)
    config = bigquery.LoadJobConfig(source_format="PARQUET", schema=fields, write_disposition="WRITE_TRUNCATE")
    client.load_table_from_file(buffer, table_id, job_config=config, timeout=30).result(retry=hook.retry)
    return table_id, table
