"""The Athena MERGE INTO of a window, checked offline by parsing it with sqlglot's Athena dialect."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from ddb_lake.core.iceberg.athena_merge import merge_into_sql

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
