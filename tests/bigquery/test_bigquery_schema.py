"""LakeSchema -> BigQuery fields: every kind, decimals at the NUMERIC/BIGNUMERIC edges, names, evolution."""

from __future__ import annotations

import pytest

from ddb_lake.core.schema.lake_schema import LakeField, LakeSchema, LakeType
from ddb_lake.destinations.bigquery.schema import (
    BigQuerySchemaError,
    bigquery_fields,
    column_name_problem,
    decimal_bigquery_type,
    evolve_schema,
)


def f(name: str, lake_type: LakeType, attribute: str | None = None, note: str = "") -> LakeField:
    return LakeField(name, attribute or name, lake_type, note)


S = LakeType("string")
I64 = LakeType("int64")


def test_every_scalar_kind_maps_to_its_bigquery_type():
    schema = LakeSchema(
        tuple(
            f(kind, LakeType(kind))
            for kind in ("string", "int64", "float64", "bool", "binary", "decimal_text", "json", "timestamp_us")
        )
    )
    got = {x["name"]: (x["type"], x["mode"]) for x in bigquery_fields(schema)}
    assert got == {
        "string": ("STRING", "NULLABLE"),
        "int64": ("INT64", "NULLABLE"),
        "float64": ("FLOAT64", "NULLABLE"),
        "bool": ("BOOL", "NULLABLE"),
        "binary": ("BYTES", "NULLABLE"),
        "decimal_text": ("STRING", "NULLABLE"),
        "json": ("STRING", "NULLABLE"),
        "timestamp_us": ("TIMESTAMP", "NULLABLE"),
    }


@pytest.mark.parametrize(
    ("precision", "scale", "expected"),
    [
        (29, 0, "NUMERIC"),  # 29 integer digits: NUMERIC's limit
        (38, 9, "NUMERIC"),  # 29 integer + 9 fraction digits
        (30, 0, "BIGNUMERIC"),  # one integer digit too many for NUMERIC
        (38, 0, "BIGNUMERIC"),  # a 38-digit DynamoDB integer
        (20, 10, "BIGNUMERIC"),  # scale 10 > NUMERIC's 9
        (38, 38, "BIGNUMERIC"),
        (39, 0, "STRING"),  # wider than any exact BigQuery number
        (40, 39, "STRING"),
    ],
)
def test_decimal_goes_to_the_narrowest_exact_type(precision, scale, expected):
    assert decimal_bigquery_type(precision, scale) == expected


def test_nested_records_lists_and_list_of_lists():
    address = LakeType(
        "struct",
        fields=(
            f("city", S),
            f("zip", I64),
            f("geo", LakeType("struct", fields=(f("lat", LakeType("decimal", precision=10, scale=7)),))),
        ),
    )
    schema = LakeSchema(
        (
            f("address", address),
            f("tags", LakeType("list", item=S)),
            f("lines", LakeType("list", item=LakeType("struct", fields=(f("sku", S), f("qty", I64))))),
            f("matrix", LakeType("list", item=LakeType("list", item=LakeType("decimal", precision=38, scale=0)))),
        )
    )
    fields = bigquery_fields(schema)
    assert fields[0] == {
        "name": "address",
        "type": "RECORD",
        "mode": "NULLABLE",
        "description": "DynamoDB attribute 'address'",
        "fields": [
            {"name": "city", "type": "STRING", "mode": "NULLABLE", "description": "DynamoDB attribute 'city'"},
            {"name": "zip", "type": "INT64", "mode": "NULLABLE", "description": "DynamoDB attribute 'zip'"},
            {
                "name": "geo",
                "type": "RECORD",
                "mode": "NULLABLE",
                "description": "DynamoDB attribute 'geo'",
                "fields": [
                    {"name": "lat", "type": "NUMERIC", "mode": "NULLABLE", "description": "DynamoDB attribute 'lat'"}
                ],
            },
        ],
    }
    assert (fields[1]["type"], fields[1]["mode"]) == ("STRING", "REPEATED")
    assert (fields[2]["type"], fields[2]["mode"]) == ("RECORD", "REPEATED")
    assert [x["name"] for x in fields[2]["fields"]] == ["sku", "qty"]
    # BigQuery has no REPEATED of REPEATED: the inner list is wrapped in a repeated record with one repeated field.
    assert fields[3]["type"] == "RECORD" and fields[3]["mode"] == "REPEATED"
    assert [(x["name"], x["type"], x["mode"]) for x in fields[3]["fields"]] == [("element", "BIGNUMERIC", "REPEATED")]


def test_description_keeps_the_attribute_name_mapping_and_note():
    schema = LakeSchema((f("order_id", S, attribute="Order-ID", note="renamed: '-' is not allowed"),))
    assert bigquery_fields(schema)[0]["description"] == "DynamoDB attribute 'Order-ID'; renamed: '-' is not allowed"


@pytest.mark.parametrize("name", ["order-id", "1st", "", "_PARTITIONTIME", "_table_suffix", "a" * 301, "größe"])
def test_invalid_column_names_are_refused_with_the_attribute_named(name):
    assert column_name_problem(name) is not None
    with pytest.raises(BigQuerySchemaError, match=r"table 'orders', column .*DynamoDB attribute 'Attr'"):
        bigquery_fields(LakeSchema((f(name, S, attribute="Attr"),)), table="orders")


def test_invalid_nested_name_reports_its_path():
    schema = LakeSchema((f("a", LakeType("struct", fields=(f("bad name", S),))),))
    with pytest.raises(BigQuerySchemaError, match=r"column 'a.bad name'"):
        bigquery_fields(schema)


@pytest.mark.parametrize("name", ["pk", "_sk", "Order_ID2", "a" * 300])
def test_valid_names(name):
    assert column_name_problem(name) is None


def _fields(*pairs):
    return bigquery_fields(LakeSchema(tuple(f(n, t) for n, t in pairs)))


def test_evolution_adds_columns_and_keeps_missing_ones():
    existing = [
        {"name": "pk", "type": "STRING", "mode": "NULLABLE"},
        {"name": "price", "type": "BIGNUMERIC", "mode": "NULLABLE"},
        {"name": "gone", "type": "INTEGER", "mode": "NULLABLE"},
        {"name": "addr", "type": "RECORD", "mode": "NULLABLE", "fields": [{"name": "city", "type": "STRING"}]},
    ]
    snapshot = _fields(
        ("pk", S),
        ("price", LakeType("decimal", precision=12, scale=2)),  # NUMERIC into a BIGNUMERIC column: kept wide
        ("addr", LakeType("struct", fields=(f("city", S), f("zip", S)))),
        ("color", S),
    )
    evo = evolve_schema(existing, snapshot, table="orders")
    assert [x["name"] for x in evo.fields] == ["pk", "price", "gone", "addr", "color"]
    assert evo.fields[1]["type"] == "BIGNUMERIC"
    assert [x["name"] for x in evo.fields[3]["fields"]] == ["city", "zip"]
    assert evo.added == ("addr.zip", "color")
    assert evo.kept_missing == ("gone",)
    assert evo.needs_field_addition


def test_evolution_with_legacy_type_names_is_no_change():
    existing = [{"name": "n", "type": "INTEGER"}, {"name": "ok", "type": "BOOLEAN"}, {"name": "x", "type": "FLOAT"}]
    evo = evolve_schema(existing, _fields(("n", I64), ("ok", LakeType("bool")), ("x", LakeType("float64"))))
    assert evo.added == () and evo.kept_missing == () and not evo.needs_field_addition


@pytest.mark.parametrize(
    ("existing", "lake_type", "message"),
    [
        ({"name": "c", "type": "BIGNUMERIC"}, S, "NULLABLE BIGNUMERIC in BigQuery but NULLABLE STRING"),
        (
            {"name": "c", "type": "NUMERIC"},
            LakeType("decimal", precision=38, scale=0),
            "NUMERIC in BigQuery but NULLABLE BIGNUMERIC",
        ),
        ({"name": "c", "type": "STRING", "mode": "REPEATED"}, S, "REPEATED STRING in BigQuery but NULLABLE STRING"),
        ({"name": "c", "type": "INT64"}, LakeType("decimal_text"), "INT64 in BigQuery but NULLABLE STRING"),
    ],
)
def test_narrowing_or_changing_a_column_fails_clearly(existing, lake_type, message):
    with pytest.raises(BigQuerySchemaError, match=rf"table 'orders': column 'c' is .*{message}.*only add columns"):
        evolve_schema([existing], _fields(("c", lake_type)), table="orders")


def test_no_existing_table_takes_the_snapshot_schema():
    snapshot = _fields(("pk", S))
    assert evolve_schema(None, snapshot).fields == snapshot
