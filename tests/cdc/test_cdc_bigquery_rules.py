"""The CDC apply to BigQuery, pure parts: what a run applies (changes, reload, nothing) from the Iceberg ancestry and
BigQuery's position, which change files, and the transaction's SQL (exact text, then parsed)."""

from __future__ import annotations

import pytest

from ddb_lake.core.cdc.bigquery_apply import CHANGES, NOTHING, RELOAD, ApplyPlan, Commit, files_between, plan_apply
from ddb_lake.destinations.bigquery.cdc_sql import apply_sql, string_literal

F = "lake/cdc/books/dt=2026-12-01/20261201T10{:02d}00000000Z-{}.json.gz"


def test_only_cdc_merges_since_bigquerys_snapshot_apply_their_files_in_one_go():
    commits = [Commit(5, position=F.format(4, "d"), files=2), Commit(4, position=F.format(2, "b"), files=1),
               Commit(3, position=F.format(1, "a"), files=1)]
    assert plan_apply("db.books", commits, 3, F.format(1, "a")) == ApplyPlan(
        CHANGES, f"2 CDC merge(s) of db.books since BigQuery's snapshot 3: 3 change file(s) after {F.format(1, 'a')} "
        f"up to {F.format(4, 'd')}", F.format(1, "a"), F.format(4, "d"), 3)


def test_bigquery_level_with_iceberg_applies_nothing():
    assert plan_apply("db.books", [Commit(5, position="p", files=1)], 5, "p").action == NOTHING


@pytest.mark.parametrize(("commits", "applied", "why"), [
    ([Commit(2)], None, "holds no applied state"),
    ([Commit(5, position="p", files=1), Commit(4)], 3, "is not an ancestor"),  # expired, or another table
    ([Commit(5, position="p", files=1), Commit(4), Commit(3, position="o", files=1)], 3,
     "1 commit(s) of db.books since BigQuery's snapshot 3 did not come from change files (a bootstrap or a healed "
     "gap, e.g. snapshot 4)"),
])
def test_a_bootstrap_heal_or_lost_position_reloads_the_whole_table(commits, applied, why):
    plan = plan_apply("db.books", commits, applied)
    assert plan.action == RELOAD
    assert why in plan.reason


def test_a_compaction_commit_changes_no_row_and_does_not_force_a_reload():
    commits = [Commit(6, "replace"), Commit(5, position="p", files=2), Commit(4, position="o", files=1)]
    assert (plan_apply("db.books", commits, 4, "o").action, plan_apply("db.books", commits, 4, "o").files) == \
        (CHANGES, 2)


def test_files_between_two_positions_are_the_change_files_after_the_first_up_to_the_second():
    listed = [F.format(m, c) for m, c in ((1, "a"), (2, "b"), (3, "c"), (4, "d"))] + ["lake/cdc/books/readme.txt"]
    assert files_between(listed, F.format(1, "a"), F.format(3, "c")) == [F.format(2, "b"), F.format(3, "c")]
    assert files_between(listed, "", F.format(1, "a")) == [F.format(1, "a")]


def test_the_transaction_merges_deletes_and_upserts_and_moves_the_position_in_the_same_commit():
    sql = apply_sql("p.d.books", "p.d.books__cdc_stage", "p.d.books__ddb_lake_cdc", ["pk", "sk", "price", "tags"],
                    ["pk", "sk"], snapshot_id=42, position="lake/cdc/x'y.json.gz",
                    watermark="2026-12-01T10:00:00+00:00", action="changes", key_count=7)
    assert sql == (
        "BEGIN TRANSACTION;\n"
        "MERGE `p.d.books` T USING `p.d.books__cdc_stage` S ON T.`pk` = S.`pk` AND T.`sk` = S.`sk`\n"
        "WHEN MATCHED AND S._ddb_lake_deleted THEN DELETE\n"
        "WHEN MATCHED THEN UPDATE SET `price` = S.`price`, `tags` = S.`tags`\n"
        "WHEN NOT MATCHED AND NOT S._ddb_lake_deleted THEN INSERT (`pk`, `sk`, `price`, `tags`) "
        "VALUES (S.`pk`, S.`sk`, S.`price`, S.`tags`);\n"
        "DELETE FROM `p.d.books__ddb_lake_cdc` WHERE TRUE;\n"
        "INSERT INTO `p.d.books__ddb_lake_cdc` (iceberg_snapshot_id, position, watermark, action, keys, applied_at) "
        "VALUES (42, 'lake/cdc/x\\'y.json.gz', TIMESTAMP '2026-12-01T10:00:00+00:00', 'changes', 7, "
        "CURRENT_TIMESTAMP());\n"
        "COMMIT TRANSACTION;")
    reload = apply_sql("p.d.books", "p.d.s", "p.d.st", ["pk"], ["pk"], snapshot_id=1, position="", watermark="w",
                       action="reload", key_count=0, replace=True)
    assert reload.startswith("BEGIN TRANSACTION;\nDELETE FROM `p.d.books` WHERE TRUE;\nMERGE ")
    assert "UPDATE SET" not in reload  # a table of keys only: nothing to update
    assert string_literal("a\\b'c") == "'a\\\\b\\'c'"


def test_the_transaction_parses_as_bigquery_sql():
    sqlglot = pytest.importorskip("sqlglot")
    sql = apply_sql("p.d.books", "p.d.s", "p.d.st", ["pk", "sk", "price"], ["pk", "sk"], snapshot_id=1,
                    position="x", watermark="2026-12-01T10:00:00+00:00", action="changes", key_count=1)
    statements = [s for s in sqlglot.parse(sql, read="bigquery") if s is not None]
    assert [type(s).__name__ for s in statements][1:4] == ["Merge", "Delete", "Insert"]
