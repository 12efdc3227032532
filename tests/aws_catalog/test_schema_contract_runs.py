"""The schema contract over several runs on moto: read -> convert -> catalog -> (validate) -> publish, as operators.

Day 1 and 2 hold ``userId``; day 3 adds ``userid`` beside it. The column ``userid`` keeps holding ``userId`` in the
Parquet files, the current Glue table and every history partition. A day-4 run whose validation fails leaves the
stored contract as it was.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from catalog_lake import BUCKET, DATABASE, TABLE

from ddb_lake.compat import AirflowFailException
from ddb_lake.core.lake.layout import parse_stamp
from ddb_lake.operators.export_to_parquet import ExportToParquetOperator
from ddb_lake.operators.glue_catalog import GlueSnapshotCatalogOperator
from ddb_lake.operators.row_count_validation import RowCountValidationOperator
from ddb_lake.operators.schema_contract import SchemaContractOperator
from ddb_lake.operators.snapshot_publish import SnapshotPublishOperator

pytestmark = pytest.mark.integration
S1, S2, S3, S4 = "20261101T000000Z", "20261102T000000Z", "20261103T000000Z", "20261104T000000Z"
USERID_HASH = "userid_41ae9913"  # "userid_" + SHA-1("userid")[:8]
NAMES = {"database": DATABASE, "table_name": TABLE, "bucket": BUCKET}


@pytest.fixture(autouse=True)
def dynamodb_table(lake) -> None:
    """The validator shows DescribeTable's ItemCount: the table exists, its items are in the uploaded exports."""
    lake.create_dynamodb_table()


def items(day: str, *, twin: bool) -> list[dict]:
    out = []
    for n in range(3):
        item = {"pk": {"S": f"order-{n}"}, "userId": {"S": f"U{n}-{day}"}, "qty": {"N": str(n)}}
        if twin:
            item["userid"] = {"S": f"lower-{n}"}
        out.append(item)
    return out


def upload_export(lake, tmp_path: Path, stamp: str, rows: list[dict]) -> dict:
    """A finished export's folder in S3, and the export task's result naming it."""
    return lake.upload_export(tmp_path / stamp, f"0170000000000{stamp[7]}-abcdef12",
                              f"mirror/exports/{TABLE}/full/{stamp}", [rows])


def run_day(lake, tmp_path: Path, stamp: str, rows: list[dict], *, validation_fails: bool = False) -> dict:
    """One DAG run's lake tasks, in order; publish only when validation passed."""
    contract = SchemaContractOperator(task_id="contract", **NAMES).execute({})
    export = upload_export(lake, tmp_path, stamp, rows)
    snapshot_url = lake.layout.url(lake.layout.snapshot_prefix(parse_stamp(stamp)))
    summary = ExportToParquetOperator(task_id="convert", export=export, dest_url=snapshot_url, snapshot=stamp,
                                      previous_schema=contract["schema"]).execute({})
    GlueSnapshotCatalogOperator(task_id="catalog", convert_summary=summary, **NAMES).execute({})
    claimed = {**export, "item_count": export["item_count"] + (1 if validation_fails else 0)}
    RowCountValidationOperator(task_id="validate", export=claimed, snapshot=summary).execute({})
    return SnapshotPublishOperator(task_id="publish", convert_summary=summary, **NAMES).execute({})


def parquet_rows(lake, stamp: str) -> list[dict]:
    """The rows of the snapshot's Parquet parts (``_manifest.json`` names them)."""
    prefix = lake.layout.snapshot_prefix(parse_stamp(stamp))
    manifest = json.loads(lake.s3.get_object(Bucket=BUCKET, Key=f"{prefix}/_manifest.json")["Body"].read())
    rows = []
    for file in manifest["files"]:
        body = lake.s3.get_object(Bucket=BUCKET, Key=f"{prefix}/{file['path'].rsplit('/', 1)[1]}")["Body"].read()
        rows.extend(pq.read_table(io.BytesIO(body)).to_pylist())
    return sorted(rows, key=lambda row: row["pk"])


def attributes_of(columns: list[dict]) -> dict[str, str]:
    """Glue column -> the attribute its comment names (``DynamoDB attribute 'userId'``)."""
    return {c["Name"]: c["Comment"].split("'")[1] for c in columns}


def stored_contract(lake) -> dict:
    table = lake.glue.get_table(DatabaseName=DATABASE, Name=TABLE)["Table"]
    body = lake.s3.get_object(Bucket=BUCKET, Key=table["Parameters"]["ddb_lake.contract"].split("/", 3)[3])
    return json.loads(body["Body"].read())


def test_userId_keeps_its_column_when_userid_appears(lake, tmp_path):
    first = run_day(lake, tmp_path, S1, items(S1, twin=False))
    assert first["action"] == "published"
    assert [(c["column"], c["attribute"]) for c in first["contract_changes"]] == [
        ("pk", "pk"), ("qty", "qty"), ("userid", "userId")]
    assert run_day(lake, tmp_path, S2, items(S2, twin=False))["contract_changes"] == []
    third = run_day(lake, tmp_path, S3, items(S3, twin=True))
    assert third["contract_changes"] == [{"snapshot": S3, "column": USERID_HASH, "attribute": "userid",
                                          "change": "added", "type": {"kind": "string"}}]

    day3 = parquet_rows(lake, S3)
    assert [(r["userid"], r[USERID_HASH]) for r in day3] == [("U0-" + S3, "lower-0"), ("U1-" + S3, "lower-1"),
                                                              ("U2-" + S3, "lower-2")]
    assert [r["userid"] for r in parquet_rows(lake, S1)] == ["U0-" + S1, "U1-" + S1, "U2-" + S1]

    current = lake.glue.get_table(DatabaseName=DATABASE, Name=TABLE)["Table"]
    assert attributes_of(current["StorageDescriptor"]["Columns"]) == {
        "pk": "pk", "userid": "userId", "qty": "qty", USERID_HASH: "userid"}
    history = lake.glue.get_partitions(DatabaseName=DATABASE, TableName=f"{TABLE}_snapshots")["Partitions"]
    by_snapshot = {p["Values"][0]: attributes_of(p["StorageDescriptor"]["Columns"]) for p in history}
    assert sorted(by_snapshot) == [S1, S2, S3]
    assert {stamp: columns["userid"] for stamp, columns in by_snapshot.items()} == {S1: "userId", S2: "userId",
                                                                                     S3: "userId"}
    assert by_snapshot[S3][USERID_HASH] == "userid"
    history_table = lake.glue.get_table(DatabaseName=DATABASE, Name=f"{TABLE}_snapshots")["Table"]
    assert attributes_of(history_table["StorageDescriptor"]["Columns"])["userid"] == "userId"

    contract = stored_contract(lake)
    assert contract["snapshot"] == S3
    assert [(c["column"], c["snapshot"]) for c in contract["history"]] == [
        ("pk", S1), ("qty", S1), ("userid", S1), (USERID_HASH, S3)]


def test_a_run_whose_validation_fails_leaves_the_contract_as_it_was(lake, tmp_path):
    run_day(lake, tmp_path, S1, items(S1, twin=False))
    before = stored_contract(lake)
    day2 = [{**item, "userID": {"S": "third spelling"}} for item in items(S2, twin=True)]
    with pytest.raises(AirflowFailException, match=f"orders snapshot {S2} is not published"):
        run_day(lake, tmp_path, S2, day2, validation_fails=True)
    assert stored_contract(lake) == before
    after = SchemaContractOperator(task_id="contract", **NAMES).execute({})
    assert after["snapshot"] == S1 and after["schema"] == before["schema"]
    assert [f["name"] for f in after["schema"]["fields"]] == ["pk", "qty", "userid"]


def drift_items(day: int) -> list[dict]:
    """Day 1: plain values. Day 2: qty gains cents, price a digit after the point, address a member, note a string."""
    out = []
    for n in range(3):
        item = {"pk": {"S": f"order-{n}"}, "qty": {"N": str(n + 1)}, "price": {"N": f"{n}.25"},
                "address": {"M": {"city": {"S": f"city-{n}"}}}, "note": {"N": str(10 + n)}}
        if day == 2:
            item["qty"] = {"N": f"{n + 1}.50"}
            item["price"] = {"N": f"{n}.125"}
            item["address"]["M"]["zip"] = {"N": f"{1000 + n}"}
            if n == 0:
                item["note"] = {"S": "ten"}
        out.append(item)
    return out


def test_after_drift_every_partition_has_its_files_types_and_the_table_the_widest(lake, tmp_path):
    from partition_types import partition_mismatches

    from ddb_lake.core.lake.glue_table import glue_columns
    from ddb_lake.core.schema.lake_schema import LakeSchema

    assert run_day(lake, tmp_path, S1, drift_items(1))["action"] == "published"
    assert run_day(lake, tmp_path, S2, drift_items(2))["action"] == "published"

    assert partition_mismatches(lake.glue, lake.s3, DATABASE, f"{TABLE}_snapshots") == {}
    partitions = {p["Values"][0]: {c["Name"]: c["Type"] for c in p["StorageDescriptor"]["Columns"]} for p in
                  lake.glue.get_partitions(DatabaseName=DATABASE, TableName=f"{TABLE}_snapshots")["Partitions"]}
    assert partitions[S1] == {"pk": "string", "address": "struct<city:string>", "note": "bigint",
                              "price": "decimal(3,2)", "qty": "bigint"}
    assert partitions[S2] == {"pk": "string", "address": "struct<city:string,zip:bigint>", "note": "string",
                              "price": "decimal(4,3)", "qty": "decimal(21,2)"}

    contract = LakeSchema.from_json(stored_contract(lake)["schema"])
    history = lake.glue.get_table(DatabaseName=DATABASE, Name=f"{TABLE}_snapshots")["Table"]
    table_types = [(c["Name"], c["Type"]) for c in history["StorageDescriptor"]["Columns"]]
    assert table_types == [(c["Name"], c["Type"]) for c in glue_columns(contract)]
    current = lake.glue.get_table(DatabaseName=DATABASE, Name=TABLE)["Table"]
    assert [(c["Name"], c["Type"]) for c in current["StorageDescriptor"]["Columns"]] == table_types
    assert [(r["pk"], str(r["qty"]), r["note"]) for r in parquet_rows(lake, S2)] == [
        ("order-0", "1.50", '{"S":"ten"}'), ("order-1", "2.50", '{"N":"11"}'), ("order-2", "3.50", '{"N":"12"}')]


def test_schema_command_reads_the_contract_the_current_table_names(lake, tmp_path, capsys, monkeypatch):
    from ddb_lake.core.cli import main

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # a shell's credentials; moto takes any
        monkeypatch.setenv(name, "testing")
    run_day(lake, tmp_path, S1, drift_items(1))
    run_day(lake, tmp_path, S2, drift_items(2))
    yaml = tmp_path / "orders.yaml"
    yaml.write_text(f"dynamodb: {{table_name: {TABLE}, region: us-east-1}}\nlake: {{bucket: {BUCKET}}}\n"
                    f"glue: {{database: {DATABASE}}}\nathena: {{output_location: 's3://{BUCKET}/athena/'}}\n")
    capsys.readouterr()
    assert main(["schema", str(yaml), "--endpoint-url", lake.url]) == 0
    # Airflow 2's logging (set up in this process by the runs above) prints boto's INFO lines to stdout as well
    out = [line for line in capsys.readouterr().out.splitlines() if not re.match(r"\[\d{4}-\d\d-\d\dT", line)]
    assert out[:2] == [f"table orders: schema contract as published at snapshot {S2}",
                       f"read from s3://{BUCKET}/mirror/snapshots/{TABLE}/snapshot={S2}/_contract.json"]
    assert [line.split() for line in out if line.startswith(S2)] == [
        [S2, "added", "address.zip", "zip", "int64"],
        [S2, "widened", "note", "note", "int64", "->", "json"],
        [S2, "widened", "price", "price", "decimal(3,2)", "->", "decimal(4,3)"],
        [S2, "widened", "qty", "qty", "int64", "->", "decimal(21,2)"],
    ]
    lake.glue.delete_table(DatabaseName=DATABASE, Name=TABLE)
    assert main(["schema", str(yaml), "--endpoint-url", lake.url]) == 4
    assert "Glue table ddb_lake.orders does not exist: the table is not published yet" in capsys.readouterr().err
