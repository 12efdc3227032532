"""``ddb-lake schema``: the contract's columns and change history as text, and the command on a local folder."""

from __future__ import annotations

import json
from pathlib import Path

from ddb_lake.core.cli import main
from ddb_lake.core.schema.contract import next_contract
from ddb_lake.core.schema.contract_report import contract_lines, type_text
from ddb_lake.core.schema.lake_schema import LakeField, LakeSchema, LakeType

S = LakeType("string")
DAY1 = LakeSchema((
    LakeField("pk", "pk", S),
    LakeField("qty", "qty", LakeType("int64")),
    LakeField("price", "price", LakeType("decimal", precision=18, scale=4), "pinned", True),
    LakeField("address", "Address", LakeType("struct", fields=(LakeField("city", "city", S),))),
))
DAY2 = LakeSchema((
    DAY1.fields[0],
    LakeField("qty", "qty", LakeType("decimal", precision=21, scale=2)),
    DAY1.fields[2],
    LakeField("address", "Address", LakeType("struct", fields=(LakeField("city", "city", S),
                                                               LakeField("zip", "zip", LakeType("int64"))))),
    LakeField("userid_41ae9913", "userid", S),
))


def contract():
    first = next_contract(None, DAY1, table="orders", snapshot="20261101T000000Z")
    return next_contract(first, DAY2, table="orders", snapshot="20261102T000000Z")


def test_type_text():
    assert [type_text(t) for t in (LakeType("decimal", precision=21, scale=2), LakeType("list", item=S),
                                   DAY2.fields[3].type, LakeType("json"))] == [
        "decimal(21,2)", "list<string>", "struct<city,zip>", "json"]


def test_contract_lines_show_columns_and_history_exactly():
    assert contract_lines(contract(), "s3://lake/snapshots/orders/snapshot=20261102T000000Z/_contract.json") == [
        "table orders: schema contract as published at snapshot 20261102T000000Z",
        "read from s3://lake/snapshots/orders/snapshot=20261102T000000Z/_contract.json",
        "",
        "columns (struct members as column.member):",
        "column           attribute  type              how",
        "pk               pk         string            inferred",
        "qty              qty        decimal(21,2)     inferred",
        "price            price      decimal(18,4)     pinned (columns.price)",
        "address          Address    struct<city,zip>  inferred",
        "address.city     city       string            inferred",
        "address.zip      zip        int64             inferred",
        "userid_41ae9913  userid     string            inferred",
        "",
        "changes (8, oldest first):",
        "snapshot          change   column           attribute  type",
        "20261101T000000Z  added    pk               pk         string",
        "20261101T000000Z  added    qty              qty        int64",
        "20261101T000000Z  added    price            price      decimal(18,4)",
        "20261101T000000Z  added    address          Address    struct<city>",
        "20261101T000000Z  added    address.city     city       string",
        "20261102T000000Z  widened  qty              qty        int64 -> decimal(21,2)",
        "20261102T000000Z  added    address.zip      zip        int64",
        "20261102T000000Z  added    userid_41ae9913  userid     string",
    ]


def test_schema_command_on_a_snapshot_folder(tmp_path: Path, capsys):
    folder = tmp_path / "lake" / "snapshots" / "orders" / "snapshot=20261102T000000Z"
    folder.mkdir(parents=True)
    (folder / "_contract.json").write_text(json.dumps(contract().to_json()))
    assert main(["schema", str(folder)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "table orders: schema contract as published at snapshot 20261102T000000Z"
    assert "20261102T000000Z  widened  qty              qty        int64 -> decimal(21,2)" in out
    assert main(["schema", str(folder / "_contract.json"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == contract().to_json()


def test_schema_command_adopts_a_manifest_and_says_when_there_is_nothing(tmp_path: Path, capsys):
    folder = tmp_path / "snapshots" / "orders" / "snapshot=20261101T000000Z"
    folder.mkdir(parents=True)
    (folder / "_manifest.json").write_text(json.dumps({"schema": DAY1.to_json()}))
    assert main(["schema", str(folder)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "table orders: schema contract as published at snapshot 20261101T000000Z"
    assert "20261101T000000Z  adopted  qty           qty        int64" in out
    assert main(["schema", str(tmp_path)]) == 4
    assert capsys.readouterr().err == (
        f"ddb-lake: error: {tmp_path}: no _contract.json or _manifest.json there; give a snapshot folder of the lake "
        "(.../snapshots/<table>/snapshot=<stamp>/) or the table's YAML file\n")
