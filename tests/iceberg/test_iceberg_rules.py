"""Pure rules of the Iceberg table: change reduction, the watermark chain, promotions, the validation arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest

from ddb_lake.core.errors import ExportFormatError, SchemaError, ValidationFailedError
from ddb_lake.core.iceberg.arithmetic import KeyTotals, check_merge, expected_after
from ddb_lake.core.iceberg.change_set import reduce_changes, require_change_set, rows_with_keys
from ddb_lake.core.iceberg.schema_rules import check_evolution, promotion_problem
from ddb_lake.core.iceberg.watermark import BOOTSTRAP, INCREMENTAL, SKIP, CommittedState, plan_window
from ddb_lake.core.schema.lake_schema import LakeField, LakeSchema, LakeType

T0 = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
TS = pa.timestamp("us", tz="UTC")


def changes(rows: list[tuple[str, str, int, int | None]]) -> pa.Table:
    """(operation, pk, write micros, v) rows as the converter writes them."""
    return pa.table({
        "_ddb_operation": pa.array([r[0] for r in rows]),
        "_ddb_write_ts": pa.array([r[2] for r in rows], pa.int64()).cast(TS),
        "pk": pa.array([r[1] for r in rows]),
        "v": pa.array([r[3] for r in rows], pa.int64()),
    })


def test_last_change_per_key_wins_by_write_timestamp_not_line_order():
    reduced = reduce_changes(changes([
        ("MODIFY", "a", 30, 3), ("INSERT", "a", 10, 1), ("MODIFY", "a", 20, 2),   # a: 3 (latest stamp, first line)
        ("INSERT", "b", 10, 1), ("REMOVE", "b", 20, None),                         # b: deleted
        ("REMOVE", "c", 10, None), ("INSERT", "c", 20, 7),                         # c: re-inserted
        ("MODIFY", "d", 5, 1), ("MODIFY", "d", 5, 2),                              # tie: the later line
    ]), ["pk"])
    assert sorted(reduced.upserts.to_pylist(), key=lambda r: r["pk"]) == [
        {"pk": "a", "v": 3}, {"pk": "c", "v": 7}, {"pk": "d", "v": 2}]
    assert reduced.deletes.to_pylist() == [{"pk": "b"}]
    assert reduced.changes == 9 and reduced.keys == 4


def test_composite_binary_and_decimal_keys_reduce():
    table = pa.table({
        "_ddb_operation": ["INSERT", "MODIFY", "INSERT"],
        "_ddb_write_ts": pa.array([1, 2, 1], pa.int64()).cast(TS),
        "pk": pa.array([b"\x00", b"\x00", b"\x00"]),
        "sk": pa.array([Decimal("1.50"), Decimal("1.50"), Decimal("2.00")], pa.decimal128(4, 2)),
        "v": ["x", "y", "z"],
    })
    reduced = reduce_changes(table, ["pk", "sk"])
    assert sorted(r["v"] for r in reduced.upserts.to_pylist()) == ["y", "z"]


def test_full_items_are_refused_as_a_change_set():
    with pytest.raises(ExportFormatError, match="full items") as err:
        require_change_set(["pk", "v"], "exp-1")
    assert err.value.export_id == "exp-1"


def test_rows_with_keys_is_a_semi_join():
    table = pa.table({"pk": ["a", "b", "c", "d"], "sk": [1, 2, 3, 4], "v": [[1], [2], [3], [4]]})
    probe = pa.table({"pk": ["c", "a", "a", "z"], "sk": [3, 1, 1, 1]})
    assert rows_with_keys(table, probe, ["pk", "sk"]).tolist() == [0, 2]


def test_new_table_bootstraps():
    plan = plan_window("books", CommittedState(), T0)
    assert (plan.action, plan.export_type, plan.export_time) == (BOOTSTRAP, "FULL_EXPORT", T0)


def test_window_starts_exactly_at_the_watermark():
    plan = plan_window("books", CommittedState(watermark=T0 - timedelta(minutes=45)), T0)
    assert (plan.action, plan.window_start, plan.export_time) == (INCREMENTAL, T0 - timedelta(minutes=45), T0)


def test_short_window_skips_and_long_gap_catches_up_24h_at_a_time():
    assert plan_window("books", CommittedState(watermark=T0 - timedelta(minutes=14)), T0).action == SKIP
    assert plan_window("books", CommittedState(watermark=T0 + timedelta(hours=1)), T0).action == SKIP
    plan = plan_window("books", CommittedState(watermark=T0 - timedelta(hours=30)), T0)
    assert (plan.window_start, plan.export_time) == (T0 - timedelta(hours=30), T0 - timedelta(hours=6))
    assert "catching up" in plan.reason


def test_chain_out_of_pitr_window_rebootstraps_with_a_clear_reason():
    plan = plan_window("books", CommittedState(watermark=T0 - timedelta(days=36)), T0,
                       earliest_restorable=T0 - timedelta(days=35))
    assert (plan.action, plan.export_type, plan.window_start, plan.export_time) == (BOOTSTRAP, "FULL_EXPORT", None, T0)
    assert "fell out of the PITR window" in plan.reason and "re-bootstrapping" in plan.reason


def test_committed_state_reads_the_snapshot_summary():
    state = CommittedState.from_summary({"ddb-lake.watermark": T0.isoformat(), "ddb-lake.export-id": "e",
                                         "ddb-lake.rows": "3", "ddb-lake.key-checksum": "99"})
    assert state == CommittedState(T0, "e", 3, 99)
    assert CommittedState.from_summary({"operation": "append"}) == CommittedState()


DEC = LakeType("decimal", precision=4, scale=2)


@pytest.mark.parametrize(("old", "new", "ok"), [
    (DEC, LakeType("decimal", precision=9, scale=2), True),
    (DEC, LakeType("decimal", precision=5, scale=3), False),
    (LakeType("int64"), LakeType("decimal", precision=20, scale=1), False),
    (LakeType("string"), LakeType("json"), False),
    (LakeType("list", item=DEC), LakeType("list", item=LakeType("decimal", precision=6, scale=2)), True),
    (LakeType("struct", fields=(LakeField("a", "a", DEC),)),
     LakeType("struct", fields=(LakeField("a", "a", DEC), LakeField("b", "b", LakeType("bool")))), True),
])
def test_iceberg_promotions(old, new, ok):
    assert (promotion_problem(old, new, "c") is None) is ok


def test_evolution_adds_columns_and_refuses_illegal_changes_naming_column_and_fix():
    old = LakeSchema((LakeField("pk", "pk", LakeType("string")), LakeField("n", "n", LakeType("int64"))))
    grown = LakeSchema((*old.fields, LakeField("extra", "extra", LakeType("bool"))))
    assert check_evolution("books", old, grown) == ["extra"]
    widened = LakeSchema((old.fields[0], LakeField("n", "n", LakeType("decimal", precision=20, scale=1))))
    with pytest.raises(SchemaError, match=r"column n .*int64 → decimal\(20,1\).*Fix: rebuild"):
        check_evolution("books", old, widened)


def test_arithmetic_and_verdict():
    expected = expected_after(KeyTotals(10, 1000), inserted=KeyTotals(2, 30), deleted=KeyTotals(1, 7))
    assert expected == KeyTotals(11, 1023)
    assert check_merge("books", "e", expected, KeyTotals(11, 1023)).endswith("match")
    with pytest.raises(ValidationFailedError, match=r"MISMATCH \(\+1 rows\).*watermark did not move"):
        check_merge("books", "e", expected, KeyTotals(12, 1023))


@pytest.mark.parametrize("table", [
    pa.table({"pk": ["user#1", "ü|x", ""], "sk": pa.array([0, -9223372036854775808, 9223372036854775807])}),
    pa.table({"pk": pa.array(["a", "b"], pa.large_string())}),
    pa.table({"pk": pa.array([b"\x00\xff", b""]), "sk": pa.array([Decimal("1.50"), Decimal("-0")],
                                                                    pa.decimal128(4, 2))}),  # reference path
])
def test_fast_key_totals_equal_the_validation_checksum(table):
    from ddb_lake.core.iceberg.arithmetic import key_totals
    from ddb_lake.core.validation.row_counts import key_checksum_of_batches

    keys = table.column_names
    batches = table.to_batches(max_chunksize=2)
    assert key_totals(batches, keys) == KeyTotals(*key_checksum_of_batches(batches, keys))
