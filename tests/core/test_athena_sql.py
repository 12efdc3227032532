"""Athena SQL builders, checked by parsing the generated SQL with sqlglot's Athena dialect."""

from __future__ import annotations

import hashlib

import pytest
import sqlglot
from sqlglot import exp

from ddb_lake.core.lake import athena_sql

DIALECT = "athena"
LOCATION = "s3://lake/p/snapshots/orders/snapshot=20261122T000000Z"


def test_add_partition_parses_to_alter_add_partition():
    sql = athena_sql.add_partition("lake", "orders_snapshots", {"snapshot": "20261122T000000Z"}, LOCATION)
    tree = sqlglot.parse_one(sql, read=DIALECT)
    assert isinstance(tree, exp.Alter)
    table = tree.this
    assert (table.db, table.name) == ("lake", "orders_snapshots")
    assert table.this.args["quoted"] and table.args["db"].args["quoted"]
    (action,) = tree.args["actions"]
    assert isinstance(action, exp.AddPartition)
    assert action.args["exists"] is True  # IF NOT EXISTS
    (condition,) = action.this.expressions
    assert condition.this.name == "snapshot"
    assert condition.expression.this == "20261122T000000Z"
    assert action.args["location"].this.this == LOCATION + "/"


def test_literals_and_identifiers_cannot_break_out():
    nasty = "x') DROP TABLE t; --\\"
    sql = athena_sql.add_partition("db`x", "t", {"snapshot": nasty}, "s3://b/it's/")
    tree = sqlglot.parse_one(sql, read=DIALECT)
    assert tree.this.db == "db`x"
    (condition,) = tree.args["actions"][0].this.expressions
    assert condition.expression.this == nasty
    assert tree.args["actions"][0].args["location"].this.this == "s3://b/it's/"


def test_msck_repair():
    sql = athena_sql.msck_repair("lake", "orders_snapshots")
    assert sql == "MSCK REPAIR TABLE `lake`.`orders_snapshots`"
    tree = sqlglot.parse_one(sql, read=DIALECT)  # sqlglot keeps MSCK as a command
    assert isinstance(tree, exp.Command) and tree.this == "MSCK REPAIR"


def test_count_rows_of_a_snapshot():
    sql = athena_sql.count_rows("lake", "orders_snapshots", "20261122T000000Z")
    tree = sqlglot.parse_one(sql, read=DIALECT)
    assert isinstance(tree, exp.Select)
    assert isinstance(tree.expressions[0].this, exp.Count) and tree.expressions[0].alias == "row_count"
    table = tree.args["from_"].this
    assert (table.db, table.name) == ("lake", "orders_snapshots")
    where = tree.args["where"].this
    assert isinstance(where, exp.EQ) and where.this.name == "snapshot" and where.expression.this == "20261122T000000Z"
    assert sqlglot.parse_one(athena_sql.count_rows("lake", "orders"), read=DIALECT).args.get("where") is None


def test_dml_literal_doubles_quotes():
    sql = athena_sql.count_rows("lake", 'we"ird', "it's")
    tree = sqlglot.parse_one(sql, read=DIALECT)
    assert tree.args["from_"].this.name == 'we"ird'
    assert tree.args["where"].this.expression.this == "it's"


@pytest.mark.parametrize("bad", ["", "a\nb", "tab\there"])
def test_rejects_empty_and_control_characters(bad):
    with pytest.raises(ValueError):
        athena_sql.ddl_string(bad)


def test_client_request_token_is_deterministic_and_sized_for_athena():
    attempt = ("scheduled__2026-11-22T00:00:00+00:00", 1)
    token = athena_sql.client_request_token("dag", "task", "orders", "20261122T000000Z", attempt=attempt)
    assert token == hashlib.sha256(
        b"dag\x1ftask\x1forders\x1f20261122T000000Z\x1fscheduled__2026-11-22T00:00:00+00:00\x1f1"
    ).hexdigest()
    assert token == athena_sql.client_request_token("dag", "task", "orders", "20261122T000000Z", attempt=attempt)
    assert token != athena_sql.client_request_token("dag", "task", "orders", "20261123T000000Z", attempt=attempt)
    assert athena_sql.TOKEN_MIN <= len(token) <= athena_sql.TOKEN_MAX
    assert token != athena_sql.client_request_token("dag", "task", "orders2", "0261122T000000Z", attempt=attempt)


def test_client_request_token_is_new_for_a_new_run_or_try():
    parts = ("dag", "task", "orders", "20261122T000000Z")
    tokens = {athena_sql.client_request_token(*parts, attempt=attempt)
              for attempt in [("run-1", 1), ("run-1", 2), ("run-2", 1), ("run-2", 2)]}
    assert len(tokens) == 4
