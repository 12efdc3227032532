"""A DynamoDB list holding NULL, through the converter and a BigQuery load on bqemulator: a STRING column of exact
canonical DynamoDB JSON, never a REPEATED column with a NULL element (which real BigQuery rejects; bqemulator
accepts it, so the test checks the mapping the load job was given and the values that came back)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from ddb_lake.core.convert.converter import convert_export
from ddb_lake.core.convert.export_writer import item_line, write_export
from ddb_lake.core.schema.lake_schema import LakeSchema
from ddb_lake.destinations.bigquery.load_hook import BigQueryLoadHook
from ddb_lake.destinations.bigquery.schema import bigquery_fields

pytestmark = pytest.mark.integration

ITEMS = [
    {"pk": {"S": "a"}, "xs": {"L": [{"N": "1.50"}, {"NULL": True}, {"S": "t"}]}},
    {"pk": {"S": "b"}, "xs": {"L": [{"N": "123456789012345678901234567890.123456789"}]}},
    {"pk": {"S": "c"}, "xs": {"L": [{"NULL": True}, {"M": {"k": {"NULL": True}}}]}},
    {"pk": {"S": "d"}},
]
EXPECTED = {"a": '{"L":[{"N":"1.50"},{"NULL":true},{"S":"t"}]}',
            "b": '{"L":[{"N":"123456789012345678901234567890.123456789"}]}',
            "c": '{"L":[{"NULL":true},{"M":{"k":{"NULL":true}}}]}', "d": None}


def test_a_list_holding_null_loads_as_exact_json_text(tmp_path: Path, gcp_project, bigquery_emulator_host):
    from google.cloud import bigquery

    source = write_export(tmp_path / "AWSDynamoDB" / "e1", [[item_line(i) for i in ITEMS]])
    summary = convert_export(str(source), str(tmp_path / "out"))
    fields = bigquery_fields(LakeSchema.from_json(summary["schema"]))
    assert [(f["name"], f["type"], f["mode"]) for f in fields] == [("pk", "STRING", "NULLABLE"),
                                                                    ("xs", "STRING", "NULLABLE")]

    hook = BigQueryLoadHook(api_deadline=5.0)
    client = hook.client(gcp_project)
    dataset = f"lists_{uuid.uuid4().hex[:8]}"
    client.create_dataset(f"{gcp_project}.{dataset}", retry=hook.retry)
    schema = [bigquery.SchemaField.from_api_repr(f) for f in fields]
    table_id = f"{gcp_project}.{dataset}.lists"
    client.create_table(bigquery.Table(table_id, schema=schema), retry=hook.retry)
    config = bigquery.LoadJobConfig(source_format="PARQUET", schema=schema, write_disposition="WRITE_TRUNCATE")
    with open(summary["files"][0]["path"], "rb") as parquet:
        client.load_table_from_file(parquet, table_id, job_config=config, timeout=30).result(retry=hook.retry)

    rows = client.query(f"SELECT pk, xs FROM `{table_id}` ORDER BY pk", retry=hook.retry, job_retry=None).result()
    assert {row["pk"]: row["xs"] for row in rows} == EXPECTED
