"""The widening rules (destinations/bigquery/widening.py), with exact values."""

from __future__ import annotations

from ddb_lake.destinations.bigquery.widening import (
    WidenedSchema,
    Widening,
    contract_view_sql,
    reshape_sql,
    staging_fields,
    widen_schema,
)


def f(name: str, kind: str, mode: str = "NULLABLE", fields: list | None = None) -> dict:
    out = {"name": name, "type": kind, "mode": mode}
    if fields is not None:
        out["fields"] = fields
    return out


TABLE = [
    f("pk", "STRING"), f("qty", "INTEGER"), f("code", "NUMERIC"), f("address", "RECORD", fields=[f("city", "STRING")])
]


def test_a_new_table_takes_the_snapshot_as_it_is():
    assert widen_schema(None, TABLE) == WidenedSchema(TABLE, (), {})


def test_legal_widenings_alter_add_and_keep():
    snapshot = [
        f("pk", "STRING"), f("qty", "NUMERIC"), f("code", "INT64"),
        f("address", "RECORD", fields=[f("city", "STRING"), f("zip", "INT64")]), f("color", "STRING"),
    ]
    widened = widen_schema(TABLE, snapshot, table="d.orders")
    assert widened.fields == [
        f("pk", "STRING"), f("qty", "NUMERIC"), f("code", "NUMERIC"),  # INT64 into NUMERIC: the table's type holds it
        f("address", "RECORD", fields=[f("city", "STRING"), f("zip", "INT64")]), f("color", "STRING"),
    ]
    assert widened.widenings == (
        Widening("set_data_type", "qty", "INT64", "NUMERIC"),
        Widening("add_member", "address.zip", None, "RECORD"),
        Widening("add_column", "color", None, "STRING"),
    )
    assert widened.renames == {}
    assert [w.change for w in widened.widenings] == [
        "qty: INT64 -> NUMERIC (ALTER COLUMN SET DATA TYPE)",
        "address.zip: new RECORD (add member)",
        "color: new STRING (add column)",
    ]
    assert staging_fields(widened, snapshot) == widened.fields
    assert reshape_sql("`s`", "`r`", widened) is None


def test_numeric_to_bignumeric_alters_and_bignumeric_keeps_numeric():
    widened = widen_schema([f("a", "NUMERIC"), f("b", "BIGNUMERIC")], [f("a", "BIGNUMERIC"), f("b", "NUMERIC")])
    assert widened.fields == [f("a", "BIGNUMERIC"), f("b", "BIGNUMERIC")]
    assert widened.widenings == (Widening("set_data_type", "a", "NUMERIC", "BIGNUMERIC"),)


def test_a_number_that_becomes_text_goes_to_a_versioned_column_and_a_view():
    snapshot = [f("pk", "STRING"), f("qty", "INT64"), f("code", "STRING"), f("address", "RECORD", fields=[])]
    widened = widen_schema(TABLE, snapshot, table="d.orders")
    assert widened.fields == [*TABLE, f("code__v2", "STRING")]
    assert widened.widenings == (
        Widening("versioned_column", "code", "NULLABLE NUMERIC", "NULLABLE STRING", "code__v2"),
    )
    assert widened.renames == {"code": "code__v2"}
    # the staging table loads the Parquet column `code` as it is (STRING) and leaves code__v2 to the reshape
    assert staging_fields(widened, snapshot) == [f("pk", "STRING"), f("qty", "INTEGER"), f("code", "STRING"), TABLE[3]]
    assert reshape_sql("`p.d.s`", "`p.d.s__shaped`", widened) == (
        "CREATE OR REPLACE TABLE `p.d.s__shaped` AS SELECT `pk`, `qty`, CAST(NULL AS NUMERIC) AS `code`, `address`, "
        "CAST(`code` AS STRING) AS `code__v2` FROM `p.d.s`"
    )
    assert contract_view_sql("p", "d", "orders", widened.fields) == (
        "CREATE OR REPLACE VIEW `p.d.orders__contract` AS SELECT `pk`, `qty`, "
        "COALESCE(`code__v2`, CAST(`code` AS STRING)) AS `code`, `address` FROM `p.d.orders`"
    )

    # The next snapshot with `code` STRING goes to code__v2 again: no new change, the same reshape.
    again = widen_schema(widened.fields, snapshot, table="d.orders")
    assert (again.fields, again.widenings, again.renames) == (widened.fields, (), {"code": "code__v2"})


def test_a_versioned_column_that_must_change_again_gets_the_next_version():
    table = [f("code", "INT64"), f("code__v2", "BOOL")]
    widened = widen_schema(table, [f("code", "STRING")])
    assert widened.fields == [*table, f("code__v3", "STRING")]
    assert widened.renames == {"code": "code__v3"}
    assert contract_view_sql("p", "d", "t", widened.fields) == (
        "CREATE OR REPLACE VIEW `p.d.t__contract` AS SELECT "
        "COALESCE(`code__v3`, CAST(`code__v2` AS STRING), CAST(`code` AS STRING)) AS `code` FROM `p.d.t`"
    )


def test_no_view_without_versioned_columns():
    assert contract_view_sql("p", "d", "orders", TABLE) is None


def test_the_publish_re_plan_of_a_widened_schema_changes_nothing_more():
    """The publish step widens the table to the load's planned fields, which name the versioned column themselves:
    the old column (old type) then stays the old column, on the day of the change and on every later day."""
    snapshot = [f("pk", "STRING"), f("qty", "INT64"), f("code", "STRING"), f("address", "RECORD", fields=[])]
    planned = widen_schema(TABLE, snapshot, table="d.orders").fields
    first = widen_schema(TABLE, planned)  # the day code__v2 appears
    assert (first.fields, first.widenings) == (planned, (Widening("add_column", "code__v2", None, "STRING"),))
    later = widen_schema(planned, planned)  # every later day: the table already has code__v2
    assert (later.fields, later.widenings, later.renames) == (planned, (), {})


def test_a_record_whose_member_changes_type_and_a_list_that_becomes_text_are_versioned():
    table = [
        f("pk", "STRING"), f("address", "RECORD", fields=[f("city", "STRING"), f("zip", "INT64")]),
        f("tags", "STRING", "REPEATED"),
    ]
    snapshot = [
        f("pk", "STRING"), f("address", "RECORD", fields=[f("city", "STRING"), f("zip", "STRING")]),
        f("tags", "STRING"),
    ]
    widened = widen_schema(table, snapshot, table="d.t")
    assert widened.fields == [*table, {**snapshot[1], "name": "address__v2"}, {**snapshot[2], "name": "tags__v2"}]
    assert [w.change for w in widened.widenings] == [
        "address: NULLABLE RECORD -> NULLABLE RECORD in new column address__v2 (view reads both)",
        "tags: REPEATED STRING -> NULLABLE STRING in new column tags__v2 (view reads both)",
    ]
    assert reshape_sql("`s`", "`r`", widened) == (
        "CREATE OR REPLACE TABLE `r` AS SELECT `pk`, CAST(NULL AS STRUCT<`city` STRING, `zip` INT64>) AS `address`, "
        "CAST(NULL AS ARRAY<STRING>) AS `tags`, `address` AS `address__v2`, CAST(`tags` AS STRING) AS `tags__v2` "
        "FROM `s`"
    )
    assert contract_view_sql("p", "d", "t", widened.fields) == (
        "CREATE OR REPLACE VIEW `p.d.t__contract` AS SELECT `pk`, COALESCE(`address__v2`, IF(`address` IS NULL, "
        "NULL, STRUCT(`address`.`city` AS `city`, CAST(`address`.`zip` AS STRING) AS `zip`))) AS `address`, "
        "COALESCE(`tags__v2`, TO_JSON_STRING(`tags`)) AS `tags` FROM `p.d.t`"
    )


def test_a_list_whose_items_change_type_is_versioned_and_the_view_keeps_only_what_sql_can_convert():
    widened = widen_schema([f("tags", "STRING", "REPEATED")], [f("tags", "INT64", "REPEATED")], table="d.t")
    assert widened.fields == [f("tags", "STRING", "REPEATED"), f("tags__v2", "INT64", "REPEATED")]
    assert contract_view_sql("p", "d", "t", widened.fields) == (
        "CREATE OR REPLACE VIEW `p.d.t__contract` AS SELECT COALESCE(`tags__v2`) AS `tags` FROM `p.d.t`"
    )
