"""The Athena MERGE INTO of a window, checked offline by parsing it with sqlglot's Athena dialect."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from ddb_lake.core.iceberg.athena_merge import choose_engine, existing_keys_sql, merge_into_sql, window_table_name

SQL = merge_into_sql("lake_db", "books", "books_window", ["pk", "sk", "name", "price", "select"], ["pk", "sk"])


def test_merge_parses_as_one_athena_merge_with_delete_update_insert():
    tree = sqlglot.parse_one(SQL, dialect="athena")
    assert isinstance(tree, exp.Merge)
    assert tree.this.sql(dialect="athena") == '"lake_db"."books" AS t'
    whens = tree.args["whens"].expressions
    assert [type(w.args["then"]).__name__ for w in whens] == ["Var", "Update", "Insert"]
    assert whens[0].args["then"].sql() == "DELETE"
    assert whens[0].args["condition"].sql() == 's."_ddb_operation" = \'REMOVE\''
    assert [e.this.name for e in whens[1].args["then"].expressions] == ["name", "price", "select"]
    assert [c.name for c in whens[2].args["then"].this.expressions] == ["pk", "sk", "name", "price", "select"]
    assert {c.sql() for c in tree.args["on"].find_all(exp.EQ)} == {'t."pk" = s."pk"', 't."sk" = s."sk"'}


def test_latest_change_per_key_is_chosen_by_write_timestamp():
    tree = sqlglot.parse_one(SQL, dialect="athena")
    window = next(tree.args["using"].find_all(exp.Window))
    assert [p.name for p in window.args["partition_by"]] == ["pk", "sk"]
    assert window.args["order"].sql() == 'ORDER BY "_ddb_write_ts" DESC'
    rank = next(w for w in tree.args["using"].find_all(exp.Where))
    assert rank.sql() == 'WHERE "_ddb_rank" = 1'


def test_round_trips_through_the_athena_dialect_and_refuses_unknown_keys():
    assert sqlglot.parse_one(SQL, dialect="athena").sql(dialect="athena").startswith('MERGE INTO "lake_db"."books"')
    with pytest.raises(ValueError, match="not among the columns"):
        merge_into_sql("d", "t", "w", ["a"], ["pk"])


def run_in_duckdb(sql: str, target: list[tuple], window: list[tuple]) -> list[tuple]:
    """The Athena statement transpiled by sqlglot and run by DuckDB over in-memory tables: its semantics."""
    import duckdb

    con = duckdb.connect()
    con.execute("CREATE SCHEMA lake_db")
    con.execute('CREATE TABLE lake_db.books (pk VARCHAR, sk BIGINT, name VARCHAR, price DECIMAL(6,2), "select" INT)')
    con.execute('CREATE TABLE lake_db.books_window (_ddb_operation VARCHAR, _ddb_write_ts TIMESTAMP, pk VARCHAR, '
                'sk BIGINT, name VARCHAR, price DECIMAL(6,2), "select" INT)')
    con.executemany("INSERT INTO lake_db.books VALUES (?, ?, ?, ?, ?)", target)
    con.executemany("INSERT INTO lake_db.books_window VALUES (?, ?, ?, ?, ?, ?, ?)", window)
    con.execute(sqlglot.transpile(sql, read="athena", write="duckdb")[0])
    return [tuple(str(v) if v is not None else None for v in row)
            for row in con.sql("SELECT * FROM lake_db.books ORDER BY pk, sk").fetchall()]


def test_semantics_last_change_by_write_timestamp_wins_and_remove_deletes():
    target = [("a", 1, "a0", "1.00", 1), ("b", 1, "b0", "2.00", 2), ("c", 1, "c0", "3.00", 3),
              ("e", 1, "e0", "5.00", 5)]
    window = [  # rows in no particular order: the write timestamp decides
        ("MODIFY", "2026-11-22 00:00:03", "a", 1, "a3", "1.30", None),
        ("MODIFY", "2026-11-22 00:00:01", "a", 1, "a1", "1.10", 1),
        ("MODIFY", "2026-11-22 00:00:02", "a", 1, "a2", "1.20", 1),
        ("REMOVE", "2026-11-22 00:00:05", "b", 1, None, None, None),  # deleted
        ("MODIFY", "2026-11-22 00:00:04", "b", 1, "b4", "2.40", 2),
        ("INSERT", "2026-11-22 00:00:01", "d", 1, "d1", "4.00", 4),  # new key
        ("INSERT", "2026-11-22 00:00:01", "d", 2, "d2", "4.00", 4),  # inserted then deleted in the window
        ("REMOVE", "2026-11-22 00:00:09", "d", 2, None, None, None),
        ("REMOVE", "2026-11-22 00:00:01", "x", 1, None, None, None),  # removal of a key the table never held
        ("REMOVE", "2026-11-22 00:00:01", "e", 1, None, None, None),  # deleted then re-inserted
        ("INSERT", "2026-11-22 00:00:07", "e", 1, "e7", "5.70", 7),
    ]
    assert run_in_duckdb(SQL, target, window) == [
        ("a", "1", "a3", "1.30", None),  # the whole new image: an attribute it lacks becomes null
        ("c", "1", "c0", "3.00", "3"),
        ("d", "1", "d1", "4.00", "4"),
        ("e", "1", "e7", "5.70", "7"),
    ]


def test_existing_keys_query_time_travels_to_the_snapshot_before_the_merge():
    sql = existing_keys_sql("lake_db", "books", "books_merge_window", ["pk", "sk"], 8_123_456_789)
    tree = sqlglot.parse_one(sql, dialect="athena")
    assert [c.sql() for c in tree.expressions] == ['s."_ddb_row"']
    joined = tree.args["joins"][0].this
    assert joined.sql(dialect="athena") == '"lake_db"."books" FOR VERSION AS OF 8123456789 AS t'
    assert {c.sql() for c in tree.args["joins"][0].args["on"].find_all(exp.EQ)} == {'t."pk" = s."pk"',
                                                                                    't."sk" = s."sk"'}


def test_engine_follows_the_setting_or_the_table_size():
    assert choose_engine("auto", None, 1000) == "worker"
    assert choose_engine("auto", 999, 1000) == "worker"
    assert choose_engine("auto", 1000, 1000) == "athena"
    assert choose_engine("worker", 10**12, 1000) == "worker"
    assert choose_engine("athena", 0, 1000) == "athena"
    assert window_table_name("books") == "books_merge_window"
    with pytest.raises(ValueError, match="auto, worker, athena"):
        choose_engine("spark", 0, 1)
