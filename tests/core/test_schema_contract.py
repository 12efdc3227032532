"""The schema contract's rules with exact values: names kept, absent attributes kept, history, refusals."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ddb_lake.core.convert.converter import convert_export
from ddb_lake.core.convert.export_writer import item_line, write_export
from ddb_lake.core.errors import SchemaError
from ddb_lake.core.schema.contract import (
    ContractChange,
    SchemaContract,
    adopted_contract,
    check_columns_kept,
    next_contract,
)
from ddb_lake.core.schema.inference import evolve
from ddb_lake.core.schema.lake_schema import LakeField, LakeSchema, LakeType

S, INT = LakeType("string"), LakeType("int64")
D72 = LakeType("decimal", precision=7, scale=2)
USERID_HASH = "userid_41ae9913"  # "userid_" + SHA-1("userid")[:8]


def schema(*fields: tuple[str, str, LakeType]) -> LakeSchema:
    return LakeSchema(tuple(LakeField(name, attribute, kind) for name, attribute, kind in fields))


DAY1 = schema(("pk", "pk", S), ("userid", "userId", S), ("qty", "qty", INT))


def test_first_publish_records_every_column_as_added():
    contract = next_contract(None, DAY1, table="orders", snapshot="20261101T000000Z")
    assert contract.schema == DAY1
    assert [(c.column, c.attribute, c.change, c.snapshot) for c in contract.history] == [
        ("pk", "pk", "added", "20261101T000000Z"),
        ("userid", "userId", "added", "20261101T000000Z"),
        ("qty", "qty", "added", "20261101T000000Z"),
    ]


def test_userid_beside_userId_gets_a_suffix_and_userId_keeps_its_column():
    day1 = next_contract(None, DAY1, table="orders", snapshot="S1")
    # what day 3's export alone would name: `userid` holds `userid`, `userId` moved to a suffixed name
    alone = schema(("pk", "pk", S), ("userid", "userid", S), ("userid_ab12cd34", "userId", S), ("qty", "qty", INT))
    converted, drift = evolve(day1.schema, alone)
    assert [(f.name, f.attribute) for f in converted.fields] == [
        ("pk", "pk"), ("userid", "userId"), ("qty", "qty"), (USERID_HASH, "userid")]
    assert drift["added"] == [USERID_HASH]
    day3 = next_contract(day1, converted, table="orders", snapshot="S3")
    assert day3.history[-1] == ContractChange("S3", USERID_HASH, "userid", "added", S)
    assert len(day3.history) == 4


def test_an_attribute_that_disappears_and_comes_back_keeps_its_column():
    day1 = next_contract(None, DAY1, table="orders", snapshot="S1")
    without_user = schema(("pk", "pk", S), ("qty", "qty", INT))
    day2_schema, drift = evolve(day1.schema, without_user)
    assert drift["missing"] == ["userid"]
    day2 = next_contract(day1, day2_schema, table="orders", snapshot="S2")
    assert [(f.name, f.attribute) for f in day2.schema.fields] == [("pk", "pk"), ("userid", "userId"), ("qty", "qty")]
    assert day2.history == day1.history  # nothing changed
    back_beside_twin = schema(("pk", "pk", S), ("userid", "userid", S), ("userid_ab12cd34", "userId", S))
    day3_schema, _ = evolve(day2.schema, back_beside_twin)
    assert day3_schema.field_named("userid").attribute == "userId"
    assert day3_schema.field_named(USERID_HASH).attribute == "userid"


def test_widening_is_a_history_entry_with_the_type_before():
    day1 = next_contract(None, DAY1, table="orders", snapshot="S1")
    cents = schema(("pk", "pk", S), ("userid", "userId", S), ("qty", "qty", D72))
    day2 = next_contract(day1, evolve(day1.schema, cents)[0], table="orders", snapshot="S2")
    assert day2.schema.field_named("qty").type == LakeType("decimal", precision=21, scale=2)
    assert day2.history[-1].to_json() == {
        "snapshot": "S2", "column": "qty", "attribute": "qty", "change": "widened",
        "type": {"kind": "decimal", "precision": 21, "scale": 2}, "previous_type": {"kind": "int64"}}


def test_struct_members_have_their_own_history_and_keep_their_names():
    address = LakeType("struct", fields=(LakeField("city", "City", S),))
    day1 = next_contract(None, schema(("pk", "pk", S), ("address", "address", address)), table="t", snapshot="S1")
    assert [c.column for c in day1.history] == ["pk", "address", "address.city"]
    incoming = LakeType("struct", fields=(LakeField("city", "city", S), LakeField("city_x", "City", S)))
    converted, _ = evolve(day1.schema, schema(("pk", "pk", S), ("address", "address", incoming)))
    day2 = next_contract(day1, converted, table="t", snapshot="S2")
    members = day2.schema.field_named("address").type.fields  # city_ + SHA-1("city")[:8]
    assert [(m.name, m.attribute) for m in members] == [("city", "City"), ("city_2c54892c", "city")]
    assert [(c.column, c.change) for c in day2.history[3:]] == [("address.city_2c54892c", "added")]


def test_a_snapshot_that_moved_a_column_is_refused_naming_table_column_and_fix():
    day1 = next_contract(None, DAY1, table="orders", snapshot="S1")
    moved = schema(("pk", "pk", S), ("userid", "userid", S), (USERID_HASH, "userId", S), ("qty", "qty", INT))
    with pytest.raises(SchemaError) as refused:
        next_contract(day1, moved, table="orders", snapshot="S3")
    assert str(refused.value).startswith(
        "table orders: column 'userid' holds DynamoDB attribute 'userId' in the schema contract, but the snapshot to "
        "publish puts 'userid' there")
    assert "clear this run's convert task" in str(refused.value)
    with pytest.raises(SchemaError, match="has no such column"):
        check_columns_kept("orders", DAY1, schema(("pk", "pk", S), ("qty", "qty", INT)))


def test_a_struct_widened_to_json_does_not_look_for_its_members():
    address = LakeType("struct", fields=(LakeField("city", "City", S),))
    contract = schema(("address", "address", address))
    check_columns_kept("t", contract, schema(("address", "address", LakeType("json"))))


def test_json_round_trip_and_adoption():
    day1 = next_contract(None, DAY1, table="orders", snapshot="S1")
    assert SchemaContract.from_json(day1.to_json()) == day1
    assert day1.to_json()["format"] == 1
    adopted = adopted_contract(DAY1, table="orders", snapshot="S0")
    assert {c.change for c in adopted.history} == {"adopted"}
    with pytest.raises(SchemaError, match="format 2"):
        SchemaContract.from_json({**day1.to_json(), "format": 2})


def test_the_converter_writes_userId_into_its_contract_column(tmp_path: Path):
    """convert_export with the contract's schema: the Parquet column ``userid`` holds ``userId``'s values."""
    day1 = next_contract(None, DAY1, table="orders", snapshot="S1")
    items = [{"pk": {"S": "a"}, "userId": {"S": "U-A"}, "userid": {"S": "lower-a"}, "qty": {"N": "1"}}]
    source = write_export(tmp_path / "AWSDynamoDB" / "01700000000000-abcdef12", [[item_line(i) for i in items]])
    summary = convert_export(str(source), str(tmp_path / "out"), previous_schema=day1.schema)
    table = pq.read_table(tmp_path / "out").to_pylist()
    assert table == [{"pk": "a", "userid": "U-A", "qty": 1, USERID_HASH: "lower-a"}]
    assert summary["drift"]["added"] == [USERID_HASH]
