"""An export holding no item: its snapshot has the table's key columns, typed from DescribeTable, and 0 rows."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ddb_lake.core.convert.converter import convert_export, empty_export_schema
from ddb_lake.core.convert.export_writer import item_line, write_export
from ddb_lake.core.errors import SchemaError
from ddb_lake.core.schema.lake_schema import LakeField, LakeSchema, LakeType
from ddb_lake.hooks.dynamodb_export import key_schema_of

KEYS = [{"attribute": "Order-Id", "type": "S"}, {"attribute": "seq", "type": "N"}, {"attribute": "raw", "type": "B"}]


def test_key_schema_comes_from_describe_table_partition_key_first():
    table = {
        "TableName": "orders",
        "KeySchema": [{"AttributeName": "seq", "KeyType": "RANGE"}, {"AttributeName": "Order-Id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "seq", "AttributeType": "N"},
                                 {"AttributeName": "Order-Id", "AttributeType": "S"},
                                 {"AttributeName": "gsi_key", "AttributeType": "B"}],
    }
    assert key_schema_of(table) == [{"attribute": "Order-Id", "type": "S"}, {"attribute": "seq", "type": "N"}]
    with pytest.raises(SchemaError, match=r"table orders: key attribute.*'seq'"):
        key_schema_of({**table, "AttributeDefinitions": table["AttributeDefinitions"][1:]})


def test_key_columns_are_typed_exactly():
    note = "key attribute (DescribeTable {}); no item exported yet"
    assert empty_export_schema(KEYS, incremental=False) == LakeSchema((
        LakeField("order_id", "Order-Id", LakeType("string"), note.format("S")),
        LakeField("seq", "seq", LakeType("decimal_text"), note.format("N")),
        LakeField("raw", "raw", LakeType("binary"), note.format("B")),
    ))
    assert empty_export_schema(KEYS[1:2], incremental=False, numbers="float").fields[0].type == LakeType("float64")
    incremental = empty_export_schema(KEYS[:1], incremental=True)
    assert [f.name for f in incremental.fields] == ["_ddb_operation", "_ddb_write_ts", "order_id"]
    with pytest.raises(SchemaError, match="key attribute type 'SS'"):
        empty_export_schema([{"attribute": "x", "type": "SS"}], incremental=False)


@pytest.mark.parametrize("export_type", ["FULL_EXPORT", "INCREMENTAL_EXPORT"])
def test_an_empty_export_writes_the_key_columns_and_no_row(tmp_path: Path, export_type: str):
    source = write_export(tmp_path / "AWSDynamoDB" / "e1", [[]], export_type=export_type)
    summary = convert_export(str(source), str(tmp_path / "out"), key_attributes=KEYS)
    table = pq.read_table(summary["files"][0]["path"])
    metadata = [("_ddb_operation", pa.string()), ("_ddb_write_ts", pa.timestamp("us", tz="UTC"))]
    keys = [("order_id", pa.string()), ("seq", pa.string()), ("raw", pa.binary())]
    assert [(f.name, f.type) for f in table.schema] == (metadata if export_type == "INCREMENTAL_EXPORT" else []) + keys
    assert table.num_rows == 0 and summary["items"] == 0 and summary["export_type"] == export_type


def test_a_non_empty_export_ignores_the_key_schema(tmp_path: Path):
    source = write_export(tmp_path / "AWSDynamoDB" / "e1", [[item_line({"Order-Id": {"S": "a"}, "seq": {"N": "7"}})]])
    with_keys = convert_export(str(source), str(tmp_path / "a"), key_attributes=KEYS)
    without = convert_export(str(source), str(tmp_path / "b"))
    assert with_keys["schema"] == without["schema"]
    assert [(f["name"], f["type"]) for f in with_keys["schema"]["fields"]] == [
        ("order_id", {"kind": "string"}), ("seq", {"kind": "int64"})]


def test_an_empty_export_after_an_earlier_schema_keeps_it_unchanged(tmp_path: Path):
    previous = LakeSchema((LakeField("order_id", "Order-Id", LakeType("string")),
                           LakeField("seq", "seq", LakeType("int64")),
                           LakeField("note", "note", LakeType("string"))))
    source = write_export(tmp_path / "AWSDynamoDB" / "e1", [[]])
    summary = convert_export(str(source), str(tmp_path / "out"), key_attributes=KEYS, previous_schema=previous)
    assert LakeSchema.from_json(summary["schema"]) == previous  # seq stays int64: no widening on an empty day
    assert summary["drift"]["widened"] == [] and summary["drift"]["missing"] == ["order_id", "seq", "note"]
    assert pq.read_table(summary["files"][0]["path"]).schema.names == ["order_id", "seq", "note"]
