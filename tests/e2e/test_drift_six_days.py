"""End to end on the local stack: one table lives through six daily DAG runs of drift with no manual step.

The DynamoDB table changes between runs (that is the drift, not a pipeline step); each day is one ``airflow dags
test`` of the table's full DAG (export → contract → convert → Glue catalog → Athena partition → BigQuery staged load
→ validate → publish, BigQuery layout ``partitioned``). After every run: the run succeeded; every value of the current
snapshot equals a DynamoDB scan, exactly; every Glue partition of the history table has its own files' Parquet types;
no column ever holds another attribute; and BigQuery's partition of the day holds the day's rows with every value
exact, each column in the type docs/bigquery.md maps the contract's type to (or a wider one the table already had),
read from the column that holds the attribute now (the newest ``<col>__vN`` where a column was versioned, the older
versions empty that day — what the ``<table>__contract`` view reads under the column's name).
"""

from __future__ import annotations

import base64
import io
import json
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from airflow_runs import airflow_env, dags_test, run_states, table_file

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS.parent / "scripts"))
sys.path.insert(0, str(TESTS / "aws_catalog"))
sys.path.insert(0, str(TESTS / "core"))

import seed_demo  # noqa: E402
from ddb_reference import lake_to_plain, plain, strip_null_members  # noqa: E402
from partition_types import partition_mismatches  # noqa: E402

from ddb_lake.core.config.table_config import load_table_config  # noqa: E402
from ddb_lake.core.schema.lake_schema import LakeSchema  # noqa: E402
from ddb_lake.destinations.bigquery.load_hook import BigQueryLoadHook  # noqa: E402
from ddb_lake.destinations.bigquery.schema import bigquery_fields, normalized_type  # noqa: E402
from ddb_lake.destinations.bigquery.widening import HOLDS, VIEW_SUFFIX  # noqa: E402

# six DAG runs: about 4 minutes alone on 2 cores, more beside another xdist worker (the default per-test cap is 600 s)
pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.timeout(1500)]

NAME = "drift_orders"
DAG_ID = f"ddb_lake__{NAME}"
DAYS = [f"2026-11-{day:02d}T00:00:00+00:00" for day in range(21, 27)]


def day_items(day: int) -> dict[str, dict[str, Any]]:
    """The table's items on ``day`` (1..6), by pk; the drift of each day is named beside it."""
    items = {}
    for n in range(6):
        item: dict[str, Any] = {
            "pk": {"S": f"user#{n}"}, "sk": {"S": "profile"},
            "qty": {"N": str(n + 1)}, "price": {"N": f"{n}.25"}, "maybe": {"N": str(7 + n)},
            "tags": {"L": [{"S": f"t{n}"}]}, "address": {"M": {"city": {"S": f"city-{n}"}}},
            "userId": {"S": f"U{n}"}, "code": {"N": str(100 + n)}, "gone_later": {"S": "here"},
        }
        if day >= 2:
            if n % 2:
                item["qty"] = {"N": f"{n + 1}.25"}  # an integer gains cents
            item["maybe"] = {"NULL": True}  # NULL on every item
            item["tags"] = {"L": []}  # a list empty on every item
            item["price"] = {"N": f"{n}.125"}  # a decimal gains a digit after the point
            item["userid"] = {"S": f"lower-{n}"}  # userid appears beside userId
            if n < 2:
                item["code"] = {"S": f"C-{n}"}  # a number turns into a string on a few items
            item["address"]["M"]["zip"] = {"N": str(1000 + n)}  # a struct gains a member
            item["nulls_inside"] = {"L": [{"N": "1.50"}, {"NULL": True}]}  # own: a list holding NULL
            item["flag"] = {"BOOL": n % 2 == 0}  # own: a new attribute
        if day >= 3:
            item.pop("gone_later")  # own: an attribute vanishes from every item
            item["maybe"] = {"N": f"{n}.5"}  # the NULL-only column gets values
            if n == 5:
                item["qty"] = {"N": "12345678901234567890.5"}  # own: beyond int64
        if day >= 4:
            if n == 0:
                item["price"] = {"N": "1E+40"}  # own: beyond 38 digits → exact text
            item["address"]["M"]["zip"] = {"S": f"Z{n}"} if n == 1 else item["address"]["M"]["zip"]  # member type
        if day >= 5:
            item["gone_later"] = {"S": "back"}  # own: the vanished attribute returns
            item["tags"] = {"L": [{"N": "1.5"}]} if n == 3 else {"L": [{"S": f"t{n}"}]}  # own: list item kinds mix
            item["blob"] = {"B": bytes([0, 1, n])}  # own: a binary attribute
        if day == 6 and n == 4:
            continue  # own: an item deleted
        items[item["pk"]["S"]] = item
    if day == 6:
        items["user#9"] = {"pk": {"S": "user#9"}, "sk": {"S": "profile"}, "qty": {"N": "0.01"}}  # own: sparse item
    return items


def write_day(dynamodb: Any, table: str, day: int) -> None:
    """Make the DynamoDB table hold exactly ``day_items(day)``."""
    wanted = day_items(day)
    for item in dynamodb.scan(TableName=table)["Items"]:
        if item["pk"]["S"] not in wanted:
            dynamodb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
    for item in wanted.values():
        dynamodb.put_item(TableName=table, Item=item)


def current_snapshot(glue: Any, s3: Any, database: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the schema of the snapshot the current table reads, its rows), read from the files themselves."""
    location = glue.get_table(DatabaseName=database, Name=NAME)["Table"]["StorageDescriptor"]["Location"]
    bucket, _, prefix = location[len("s3://"):].partition("/")
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=f"{prefix}_manifest.json")["Body"].read())
    rows = []
    for listed in manifest["files"]:
        key = listed["path"][len(f"s3://{bucket}/"):]
        rows += pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())).to_pylist()
    return manifest["schema"], rows


def export_form(value: Any) -> Any:
    """A scanned value (boto3 gives binary as bytes) in DynamoDB JSON's export form (binary as base64 text)."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {tag: export_form(inner) for tag, inner in value.items()}
    if isinstance(value, list):
        return [export_form(inner) for inner in value]
    return value


def assert_snapshot_equals_scan(schema: dict[str, Any], rows: list[dict[str, Any]], scan: list[dict]) -> None:
    by_pk = {row["pk"]: row for row in rows}
    assert sorted(by_pk) == sorted(item["pk"]["S"] for item in scan)
    fields = schema["fields"]
    seen = {f["attribute"] for f in fields}
    for item in map(export_form, scan):
        row = by_pk[item["pk"]["S"]]
        assert set(item) <= seen, f"attributes without a column: {set(item) - seen}"
        for f in fields:
            expected = plain(item[f["attribute"]]) if f["attribute"] in item else None
            got = row[f["name"]]
            if f["type"]["kind"] == "json" and got is not None:
                assert json.loads(got) == item[f["attribute"]], (item["pk"], f["name"])  # typed JSON, exact text
            elif f["type"]["kind"] == "decimal_text" and got is not None:
                assert got == item[f["attribute"]]["N"], (item["pk"], f["name"])  # the exact text
            got_plain = strip_null_members(lake_to_plain(got, f["type"]))
            assert got_plain == strip_null_members(expected), (item["pk"], f["name"], got, expected)


def bigquery_day(project: str, dataset: str, day: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the BigQuery table's fields, the rows of the day's partition)."""
    hook = BigQueryLoadHook(api_deadline=15.0)
    sql = f"SELECT * FROM `{project}.{dataset}.{NAME}` WHERE _PARTITIONDATE = DATE '{day}'"
    rows = hook.client(project).query(sql, retry=hook.retry, job_retry=None).result()
    return hook.table_fields(project, dataset, NAME) or [], [dict(r.items()) for r in rows]


def holding_column(name: str, table: dict[str, dict[str, Any]]) -> tuple[str, list[str]]:
    """(the column holding contract column ``name`` now: its newest ``__vN`` version, its older columns)."""
    versions = {int(c[len(name) + 3:]): c for c in table if c[len(name) + 3:].isdigit() and c[:len(name) + 3] ==
                f"{name}__v"}
    chain = [name, *(versions[n] for n in sorted(versions))]
    return chain[-1], chain[:-1]


def assert_bigquery_day_equals_scan(schema: dict[str, Any], table_fields: list[dict], rows: list[dict],
                                    scan: list[dict]) -> None:
    """Every value of the day's partition equals the scan, under docs/bigquery.md's mapping of the contract's types."""
    table = {f["name"]: f for f in table_fields}
    mapped = {f["name"]: f for f in bigquery_fields(LakeSchema.from_json(schema))}
    by_pk = {row["pk"]: row for row in rows}
    assert len(rows) == len(by_pk) and sorted(by_pk) == sorted(item["pk"]["S"] for item in scan)
    for f in schema["fields"]:
        column, older = holding_column(f["name"], table)
        want, have = mapped[f["name"]], table[column]
        pair = (normalized_type(have), normalized_type(want))
        assert (have.get("mode"), pair[0] == pair[1] or pair in HOLDS) == (want["mode"], True), (f["name"], have)
        for item in map(export_form, scan):
            row = by_pk[item["pk"]["S"]]
            assert all(row[c] in (None, []) for c in older), (item["pk"], older)  # older versions empty this day
            got, value = row[column], item.get(f["attribute"])
            expected = plain(value) if value is not None else ([] if want["mode"] == "REPEATED" else None)
            if f["type"]["kind"] == "json" and got is not None:
                assert json.loads(got) == value, (item["pk"], column)  # canonical DynamoDB JSON, exact
            elif f["type"]["kind"] == "decimal_text" and got is not None:
                assert got == value["N"], (item["pk"], column)  # the exact text
            got_plain = strip_null_members(lake_to_plain(got, f["type"]))
            assert got_plain == strip_null_members(expected), (item["pk"], column, got, expected)


def column_attributes(s3: Any, glue: Any, database: str) -> dict[str, set[str]]:
    """column → every attribute a partition's files say it holds (Parquet ``ddb_lake.columns``), over all days."""
    out: dict[str, set[str]] = {}
    for partition in glue.get_partitions(DatabaseName=database, TableName=f"{NAME}_snapshots")["Partitions"]:
        bucket, _, prefix = partition["StorageDescriptor"]["Location"][len("s3://"):].partition("/")
        for listed in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]:
            if listed["Key"].endswith(".parquet"):
                body = s3.get_object(Bucket=bucket, Key=listed["Key"])["Body"].read()
                mapping = json.loads(pq.read_schema(io.BytesIO(body)).metadata[b"ddb_lake.columns"])
                for column, attribute in mapping.items():
                    out.setdefault(column, set()).add(attribute)
    return out


def test_a_table_lives_through_six_days_of_drift(local_stack_state, tmp_path):
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    path = table_file(tmp_path / "tables", NAME, bigquery={"layout": "partitioned"})
    config = load_table_config(path)
    env = airflow_env(tmp_path, tmp_path / "tables")
    aws = {"aws_conn_id": "aws_default", "region_name": "us-east-1"}
    dynamodb = AwsBaseHook(client_type="dynamodb", **aws).conn
    s3 = AwsBaseHook(client_type="s3", **aws).conn
    glue = AwsBaseHook(client_type="glue", **aws).conn
    seed_demo.create_table(dynamodb, config.dynamodb.table_name)
    s3.create_bucket(Bucket=config.lake.bucket)
    seed_demo.seed_google(config)
    database = config.glue.database

    for day, logical_date in enumerate(DAYS, start=1):
        write_day(dynamodb, config.dynamodb.table_name, day)
        log = dags_test(env, DAG_ID, logical_date, tmp_path / f"day{day}.log")
        states = dict(run_states(env, DAG_ID))
        assert [s for d, s in states.items() if d[:10] == logical_date[:10]] == ["success"], (day, log[-6000:])
        if day == 2:  # the run report lists the lake contract's widenings
            assert "  widened qty: int64 → decimal(21,2)\n" in log and "  widened tags:" not in log, log[-6000:]

        schema, rows = current_snapshot(glue, s3, database)
        scan = dynamodb.scan(TableName=config.dynamodb.table_name)["Items"]
        assert_snapshot_equals_scan(schema, rows, scan)
        assert partition_mismatches(glue, s3, database, f"{NAME}_snapshots") == {}, day
        held = column_attributes(s3, glue, database)
        assert {c: a for c, a in held.items() if len(a) > 1} == {}, day  # no column changed its attribute
        bq_fields, bq_rows = bigquery_day(config.bigquery.project, config.bigquery.dataset, logical_date[:10])
        assert_bigquery_day_equals_scan(schema, bq_fields, bq_rows, scan)

    contract = {f["name"]: (f["attribute"], f["type"]) for f in schema["fields"]}
    assert contract["userid"][0] == "userId" and contract["userid_41ae9913"][0] == "userid"
    assert contract["qty"][1] == {"kind": "decimal", "precision": 22, "scale": 2}
    assert contract["price"][1] == {"kind": "decimal_text"}
    assert contract["maybe"][1] == {"kind": "decimal", "precision": 20, "scale": 1}  # int64 (19 digits) + .5
    assert contract["code"][1] == contract["nulls_inside"][1] == contract["tags"][1] == {"kind": "json"}
    assert [m["name"] for m in contract["address"][1]["fields"]] == ["city", "zip"]
    assert contract["address"][1]["fields"][1]["type"] == {"kind": "json"}
    history = glue.get_table(DatabaseName=database, Name=f"{NAME}_snapshots")["Table"]["StorageDescriptor"]
    current = glue.get_table(DatabaseName=database, Name=NAME)["Table"]["StorageDescriptor"]
    assert [(c["Name"], c["Type"]) for c in history["Columns"]] == [(c["Name"], c["Type"]) for c in current["Columns"]]

    # BigQuery: which columns were versioned (no ALTER reaches them), and the view reading each under its name.
    names = [f["name"] for f in bq_fields]
    assert sorted(n for n in names if "__v" in n) == ["address__v2", "code__v2", "price__v2", "tags__v2"]
    assert {normalized_type(f) for f in bq_fields if f["name"] in ("qty", "maybe")} == {"NUMERIC"}  # ALTERed
    hook, dataset = BigQueryLoadHook(api_deadline=15.0), f"{config.bigquery.project}.{config.bigquery.dataset}"
    view = hook.client(config.bigquery.project).query(
        f"SELECT * FROM `{dataset}.{NAME}{VIEW_SUFFIX}`", retry=hook.retry, job_retry=None).result()
    assert sorted(f.name for f in view.schema) == sorted(n for n in names if "__v" not in n)
    assert view.total_rows == 6 + 6 + 6 + 6 + 6 + 6  # every day's rows, one column per contract column

