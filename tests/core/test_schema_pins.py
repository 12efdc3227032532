"""Pinned column types (YAML ``columns``): parsing, fit rules with exact values, and the converter keeping them."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ddb_lake.core.convert.converter import convert_export
from ddb_lake.core.convert.export_writer import item_line, write_export
from ddb_lake.core.errors import SchemaError, TerminalError
from ddb_lake.core.schema.lake_schema import LakeField, LakeSchema, LakeType
from ddb_lake.core.schema.pins import PinnedValueError, check_pins_hold, pin_type, value_fits, with_pins

KEYS = [{"attribute": "pk", "type": "S"}]
D18_4 = LakeType("decimal", precision=18, scale=4)


def test_pin_types_parse_exactly():
    assert pin_type("decimal(18,4)") == D18_4
    assert pin_type(" Decimal(5, 0) ") == LakeType("decimal", precision=5, scale=0)
    assert [pin_type(t).kind for t in ("string", "bool", "binary", "int64", "decimal_text", "json")] == [
        "string", "bool", "binary", "int64", "decimal_text", "json"]
    with pytest.raises(ValueError, match="'decimal\\(39,2\\)': a decimal needs 1 <= precision <= 38"):
        pin_type("decimal(39,2)")
    with pytest.raises(ValueError, match="'money' is not a column type; use one of string, bool, binary, int64"):
        pin_type("money")


@pytest.mark.parametrize(("value", "pin", "fits"), [
    ({"N": "12345678901234.5678"}, "decimal(18,4)", True),
    ({"N": "123456789012345.5"}, "decimal(18,4)", False),  # 15 integer digits > 14
    ({"N": "1.23456"}, "decimal(18,4)", False),  # scale 5 > 4
    ({"N": "1E+3"}, "decimal(4,0)", True),
    ({"N": "-9223372036854775808"}, "int64", True),
    ({"N": "9223372036854775808"}, "int64", False),
    ({"N": "1.5"}, "int64", False),
    ({"S": "x"}, "decimal_text", False),
    ({"N": "1E-130"}, "decimal_text", True),
    ({"S": "x", "N": None}, "string", True),
    ({"N": "1"}, "string", False),
    ({"NULL": True}, "int64", True),
    (None, "string", True),
    ({"L": [{"S": "a"}]}, "json", True),
])
def test_value_fits(value, pin, fits):
    assert value_fits(value, pin_type(pin)) is fits


def test_pins_type_seen_and_unseen_attributes_and_never_narrow_the_contract():
    schema = LakeSchema((LakeField("pk", "pk", LakeType("string")), LakeField("price", "price", LakeType("int64"))))
    pinned = with_pins(schema, {"price": D18_4, "Note": LakeType("string")})
    assert pinned.fields == (
        LakeField("pk", "pk", LakeType("string")),
        LakeField("price", "price", D18_4, "pinned in the table's YAML: columns.price: decimal(18,4)", True),
        LakeField("note", "Note", LakeType("string"), "pinned in the table's YAML: columns.Note: string", True),
    )
    wide = LakeSchema((LakeField("price", "price", LakeType("decimal_text")),))
    with pytest.raises(SchemaError) as narrower:
        check_pins_hold("table orders", wide, wide, {"price": D18_4})
    assert str(narrower.value) == (
        "table orders: columns.price pins decimal(18,4), narrower than the type decimal_text column 'price' already "
        "has in the schema contract (earlier snapshots hold values it cannot type). Fix: pin at least decimal_text "
        "in the table's YAML (columns.price), or remove the pin.")


def items(*prices: str) -> list[bytes]:
    return [item_line({"pk": {"S": f"order-{n}"}, "price": {"N": price}}) for n, price in enumerate(prices)]


def test_converter_writes_pinned_types_and_records_them(tmp_path: Path):
    source = write_export(tmp_path / "AWSDynamoDB" / "e1", [items("1.5", "20")])
    summary = convert_export(str(source), str(tmp_path / "out"), key_attributes=KEYS,
                             pins={"price": "decimal(18,4)", "note": "string"})
    table = pq.read_table(summary["files"][0]["path"])
    assert [(f.name, f.type) for f in table.schema] == [
        ("pk", pa.string()), ("price", pa.decimal128(18, 4)), ("note", pa.string())]
    assert table.column("price").to_pylist() == [Decimal("1.5000"), Decimal("20.0000")]
    assert table.column("note").to_pylist() == [None, None]
    assert [(f["name"], f.get("pinned", False)) for f in summary["schema"]["fields"]] == [
        ("pk", False), ("price", True), ("note", True)]
    # a later run whose values alone would be int64 keeps the pin; so does one whose values would need more
    again = convert_export(str(write_export(tmp_path / "AWSDynamoDB" / "e2", [items("7")])), str(tmp_path / "o2"),
                           key_attributes=KEYS, pins={"price": "decimal(18,4)"},
                           previous_schema=LakeSchema.from_json(summary["schema"]))
    assert again["schema"] == summary["schema"] and again["drift"]["widened"] == []


def test_a_value_that_does_not_fit_its_pin_fails_with_key_value_and_fix(tmp_path: Path):
    source = write_export(tmp_path / "AWSDynamoDB" / "e1", [items("1.5", "20"), items("3", "4.123456")])
    with pytest.raises(PinnedValueError) as refused:
        convert_export(str(source), str(tmp_path / "out"), key_attributes=KEYS, pins={"price": "decimal(18,4)"})
    assert isinstance(refused.value, TerminalError)
    file_name = sorted((source / "data").iterdir())[1].name
    assert str(refused.value) == (
        f"item {{pk=order-1}} (file data/{file_name}, item 2): attribute 'price' holds 4.123456, which does not fit "
        "its pinned type decimal(18,4) (columns.price in the table's YAML). Nothing was written. Fix: change "
        "columns.price to a type that holds it (e.g. decimal(20,6)) or remove the pin, then clear the convert task; "
        "or correct the item in DynamoDB.")
    assert not (tmp_path / "out").exists()
