"""Glue mapping of the lake schema: exact Hive types, TableInput, additive schema evolution, snapshot locations."""

from __future__ import annotations

import pytest

from ddb_lake.core.lake.glue_table import (
    PARQUET_SERDE,
    SchemaEvolutionError,
    column_comment,
    exact_columns,
    glue_columns,
    hive_type,
    injected_projection_parameters,
    merge_columns,
    parent_location,
    parse_hive_type,
    partition_input,
    snapshot_location,
    stamp_of_location,
    table_input,
    widen_type,
)
from ddb_lake.core.schema.lake_schema import LakeField, LakeSchema, LakeType

ITEM = LakeType(
    "struct", fields=(LakeField("sku", "sku", LakeType("string")), LakeField("qty", "qty", LakeType("int64")))
)
SCHEMA = LakeSchema(
    (
        LakeField("pk", "PK", LakeType("string")),
        LakeField("amount", "amount", LakeType("decimal", precision=12, scale=2)),
        LakeField("big_number", "big-number", LakeType("decimal_text"), note="values over 38 digits"),
        LakeField("doc", "doc", LakeType("json")),
        LakeField("items", "items", LakeType("list", item=ITEM)),
        LakeField("ok", "ok", LakeType("bool")),
        LakeField("blob", "blob", LakeType("binary")),
        LakeField("ratio", "ratio", LakeType("float64")),
        LakeField("changed_at", "changed_at", LakeType("timestamp_us")),
    )
)


def test_hive_types_of_every_kind():
    assert [hive_type(f.type) for f in SCHEMA.fields] == [
        "string", "decimal(12,2)", "string", "string", "array<struct<sku:string,qty:bigint>>",
        "boolean", "binary", "double", "timestamp",
    ]


def test_column_comment_names_attribute_and_why_text():
    assert column_comment(SCHEMA.fields[2]) == (
        "DynamoDB attribute 'big-number' (number kept as exact decimal text): values over 38 digits"
    )
    assert column_comment(SCHEMA.fields[3]) == "DynamoDB attribute 'doc' (kept as JSON text)"
    assert column_comment(SCHEMA.fields[0]) == "DynamoDB attribute 'PK'"


def test_table_input_partitioned_parquet():
    table = table_input("orders_snapshots", glue_columns(SCHEMA), "s3://lake/p/snapshots/orders", partitioned=True)
    assert table["PartitionKeys"] == [{"Name": "snapshot", "Type": "string"}]
    assert table["TableType"] == "EXTERNAL_TABLE"
    assert table["Parameters"]["classification"] == "parquet"
    descriptor = table["StorageDescriptor"]
    assert descriptor["Location"] == "s3://lake/p/snapshots/orders/"
    assert descriptor["SerdeInfo"]["SerializationLibrary"] == PARQUET_SERDE
    assert descriptor["InputFormat"].endswith("MapredParquetInputFormat")
    assert [c["Name"] for c in descriptor["Columns"]] == [f.name for f in SCHEMA.fields]
    assert table_input("orders", [], "s3://x/y/", partitioned=False)["PartitionKeys"] == []


def test_partition_input():
    partition = partition_input("20261122T000000Z", [], "s3://lake/s/snapshot=20261122T000000Z")
    assert partition["Values"] == ["20261122T000000Z"]
    assert partition["StorageDescriptor"]["Location"] == "s3://lake/s/snapshot=20261122T000000Z/"


def test_parse_and_render_nested_types():
    text = "struct<a:array<bigint>,b:decimal(10,2),c:map<string,int>>"
    parsed = parse_hive_type(text)
    assert parsed.name == "struct"
    assert [name for name, _ in parsed.args] == ["a", "b", "c"]
    assert widen_type("t", "c", text, text) == text
    with pytest.raises(ValueError, match="missing"):
        parse_hive_type("array<bigint")


def cols(**types: str) -> list[dict[str, str]]:
    return [{"Name": name, "Type": type_, "Comment": ""} for name, type_ in types.items()]


def test_merge_appends_new_columns_and_keeps_missing_ones():
    merged = merge_columns("db.t", cols(a="string", b="bigint"), cols(c="double", a="string"))
    assert [(c["Name"], c["Type"]) for c in merged] == [("a", "string"), ("b", "bigint"), ("c", "double")]


@pytest.mark.parametrize(
    ("old", "new", "merged"),
    [
        ("int", "bigint", "bigint"),
        ("bigint", "int", "bigint"),
        ("float", "double", "double"),
        ("decimal(10,2)", "decimal(14,2)", "decimal(14,2)"),
        ("decimal(14,2)", "decimal(10,2)", "decimal(14,2)"),
        ("struct<a:int>", "struct<b:string,a:bigint>", "struct<a:bigint,b:string>"),
        ("array<struct<a:int>>", "array<struct<a:int,b:boolean>>", "array<struct<a:int,b:boolean>>"),
    ],
)
def test_widenings(old, new, merged):
    assert merge_columns("db.t", cols(x=old), cols(x=new))[0]["Type"] == merged


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("decimal(12,2)", "string", "column 'x': the new snapshot has type string where the table has decimal"),
        ("bigint", "double", "column 'x'"),
        ("struct<a:bigint>", "struct<a:string>", "column 'x.a'"),
        ("array<bigint>", "array<string>", r"column 'x\[\]'"),
        ("decimal(10,2)", "decimal(10,4)", "different scale"),
        ("decimal(38,0)", "decimal(38,10)", "over Athena's 38 digits"),
    ],
)
def test_incompatible_changes_name_table_and_column(old, new, message):
    with pytest.raises(SchemaEvolutionError, match=r"Glue table 'db\.t'") as raised:
        merge_columns("db.t", cols(x=old), cols(x=new))
    assert raised.match(message)


def test_snapshot_location_from_key_or_url():
    summary = {"snapshot": "20261122T000000Z", "snapshot_prefix": "p/snapshots/orders/snapshot=20261122T000000Z"}
    assert snapshot_location(summary, "lake") == ("20261122T000000Z", "s3://lake/p/snapshots/orders/snapshot=20261122T000000Z/")
    url = {**summary, "snapshot_prefix": "s3://b/x/snapshot=20261122T000000Z/"}
    assert snapshot_location(url) == ("20261122T000000Z", "s3://b/x/snapshot=20261122T000000Z/")
    with pytest.raises(ValueError, match="pass the lake bucket"):
        snapshot_location(summary)
    with pytest.raises(ValueError, match="does not end in snapshot=20991122T000000Z"):
        snapshot_location({**summary, "snapshot": "20991122T000000Z"}, "lake")
    with pytest.raises(ValueError, match="lacks snapshot_prefix"):
        snapshot_location({"snapshot": "x"}, "lake")


def test_stamp_and_parent_of_location():
    assert stamp_of_location("s3://b/p/snapshots/t/snapshot=20261122T000000Z/") == "20261122T000000Z"
    assert stamp_of_location("s3://b/p/other/") is None
    assert parent_location("s3://b/p/snapshots/t/snapshot=20261122T000000Z/") == "s3://b/p/snapshots/t/"


def test_injected_projection_parameters():
    assert injected_projection_parameters("s3://b/p/snapshots/t") == {
        "projection.enabled": "true",
        "projection.snapshot.type": "injected",
        "storage.location.template": "s3://b/p/snapshots/t/snapshot=${snapshot}/",
    }


DECIMAL_9_2 = LakeType("decimal", precision=9, scale=2)


@pytest.mark.parametrize(
    ("old", "new", "lake", "merged"),
    [
        ("bigint", "decimal(21,2)", LakeType("decimal", precision=21, scale=2), "decimal(21,2)"),  # integer gains cents
        ("decimal(3,2)", "decimal(7,2)", LakeType("decimal", precision=7, scale=2), "decimal(7,2)"),
        ("decimal(7,2)", "decimal(8,3)", LakeType("decimal", precision=8, scale=3), "decimal(8,3)"),  # one more digit
        ("bigint", "string", LakeType("json"), "string"),  # a number turns into a string on a few items
        ("decimal(38,0)", "string", LakeType("decimal_text"), "string"),
        ("struct<a:bigint>", "string", LakeType("json"), "string"),
        ("struct<b:bigint,a:string>", "struct<b:decimal(21,2),a:string,c:boolean>",
         LakeType("struct", fields=(LakeField("b", "b", LakeType("decimal", precision=21, scale=2)),
                                    LakeField("a", "a", LakeType("string")), LakeField("c", "c", LakeType("bool")))),
         "struct<b:decimal(21,2),a:string,c:boolean>"),
        ("array<struct<a:bigint>>", "array<struct<a:string>>",
         LakeType("list", item=LakeType("struct", fields=(LakeField("a", "a", LakeType("json")),))),
         "array<struct<a:string>>"),
        ("decimal(21,2)", "bigint", LakeType("int64"), "decimal(21,2)"),  # an older, narrower snapshot: kept wide
    ],
)
def test_contract_widenings_with_the_lake_type(old, new, lake, merged):
    schema = LakeSchema((LakeField("x", "x", lake),))
    assert merge_columns("db.t", cols(x=old), cols(x=new), schema)[0]["Type"] == merged


def test_plain_string_is_not_text_that_holds_numbers():
    schema = LakeSchema((LakeField("x", "x", LakeType("string")),))
    with pytest.raises(SchemaEvolutionError, match="clear this run's contract and convert tasks"):
        merge_columns("db.t", cols(x="bigint"), cols(x="string"), schema)
    with pytest.raises(SchemaEvolutionError, match=r"decimal\(9,2\).*a different scale \(3 vs 2\)"):
        widen_type("db.t", "x", "decimal(9,2)", "decimal(8,3)", DECIMAL_9_2)


def test_exact_columns_take_the_snapshot_types_and_keep_columns_it_lacks():
    assert exact_columns(cols(a="bigint", gone="string"), cols(a="decimal(21,2)", b="string")) == cols(
        a="decimal(21,2)", b="string", gone="string")
