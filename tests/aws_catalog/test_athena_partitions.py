"""Athena partition repair: generated SQL, include/sql templates rendered as templated fields, runs on moto."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlglot
from catalog_lake import DATABASE, SCHEMA_V1, rows

from ddb_lake.core.errors import TerminalServiceError
from ddb_lake.core.lake import athena_sql, glue_table
from ddb_lake.operators.athena_partitions import AthenaPartitionRepairOperator

SQL_DIR = Path(__file__).resolve().parents[2] / "include" / "sql"
STAMP = "20261122T000000Z"
LOCATION = f"s3://lake/mirror/snapshots/orders/snapshot={STAMP}"
OUTPUT = "s3://lake/athena-results/"


def repair(dag=None, **kwargs) -> AthenaPartitionRepairOperator:
    defaults = {"task_id": "repair", "database": DATABASE, "table": "orders_snapshots", "snapshot": STAMP,
                "location": LOCATION, "output_location": OUTPUT, "poll_interval": 0}
    return AthenaPartitionRepairOperator(**{**defaults, **kwargs}, dag=dag)


def sql_dag():
    from ddb_lake.compat import DAG

    return DAG("athena_templates", schedule=None, start_date=datetime(2026, 11, 1), template_searchpath=[str(SQL_DIR)],
               params={"db": DATABASE})


def render(operator: AthenaPartitionRepairOperator) -> AthenaPartitionRepairOperator:
    """Render as the task runner does: with the DAG's own Jinja environment when the task has a DAG."""
    jinja_env = operator.dag.get_template_env() if operator.has_dag() else None
    operator.render_template_fields({"task": operator, "params": {"db": DATABASE}, "ds": "2026-11-22"}, jinja_env)
    return operator


def test_generated_sql_is_what_the_rendered_view_shows():
    operator = render(repair(database="{{ params.db }}", snapshot="{{ ds | replace('-', '') }}T000000Z"))
    assert operator.database == DATABASE
    assert operator.sql == athena_sql.add_partition(DATABASE, "orders_snapshots", {"snapshot": STAMP}, LOCATION)
    msck = render(repair(mode="msck_repair", snapshot=None, location=None))
    assert msck.sql == "MSCK REPAIR TABLE `ddb_lake`.`orders_snapshots`"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("add_snapshot_partition.sql",
         athena_sql.add_partition(DATABASE, "orders_snapshots", {"snapshot": STAMP}, LOCATION)),
        ("msck_repair_table.sql", athena_sql.msck_repair(DATABASE, "orders_snapshots")),
        ("count_snapshot_rows.sql", athena_sql.count_rows(DATABASE, "orders_snapshots", STAMP)),
    ],
)
def test_include_sql_templates_render_to_the_builders_sql(template, expected):
    operator = render(repair(dag=sql_dag(), database="{{ params.db }}", sql=template))
    assert operator.sql == expected
    assert sqlglot.parse_one(operator.sql, read="athena") is not None


def test_templates_quote_hostile_values_like_the_builders():
    nasty = "x') DROP TABLE t; --"
    operator = render(repair(dag=sql_dag(), snapshot=nasty, sql="add_snapshot_partition.sql"))
    assert operator.sql == athena_sql.add_partition(DATABASE, "orders_snapshots", {"snapshot": nasty}, LOCATION)


def test_unknown_mode_and_missing_inputs_fail_clearly():
    with pytest.raises(ValueError, match="mode must be one of"):
        repair(mode="repair_everything")
    with pytest.raises(Exception, match="needs snapshot and location"):
        repair(snapshot=None).build_sql()


def test_default_sql_is_the_mode_template_found_beside_the_dags_folder(tmp_path, monkeypatch):
    """A deployed DAG file sits in <dags>/: the templates are found in <dags>/../include/sql, else <dags>/sql."""
    from ddb_lake.core.lake.sql_templates import SQL_DIR_ENV

    monkeypatch.delenv(SQL_DIR_ENV)
    (tmp_path / "include" / "sql").mkdir(parents=True)
    (tmp_path / "include" / "sql" / "msck_repair_table.sql").write_text(
        "MSCK REPAIR TABLE {{ task.table | athena_ddl_identifier }} -- from include/sql\n")
    (tmp_path / "dags" / "sql").mkdir(parents=True)
    (tmp_path / "dags" / "sql" / "add_snapshot_partition.sql").write_text(
        "-- from dags/sql\n" + (SQL_DIR / "add_snapshot_partition.sql").read_text())
    dag = sql_dag()
    dag.fileloc = str(tmp_path / "dags" / "ddb_lake_tables.py")
    dag.template_searchpath = None
    msck = render(repair(dag=dag, task_id="msck", mode="msck_repair", snapshot=None, location=None))
    assert msck.sql == "MSCK REPAIR TABLE `orders_snapshots` -- from include/sql"
    added = render(repair(dag=dag, task_id="add"))
    assert added.sql == "-- from dags/sql\n" + athena_sql.add_partition(
        DATABASE, "orders_snapshots", {"snapshot": STAMP}, LOCATION)


def test_a_missing_sql_folder_is_a_config_error_naming_where_it_looked(monkeypatch):
    from ddb_lake.core.errors import ConfigError
    from ddb_lake.core.lake.sql_templates import SQL_DIR_ENV

    monkeypatch.delenv(SQL_DIR_ENV)
    with pytest.raises(ConfigError, match=r"SQL template msck_repair_table.sql not found .*\$DDB_LAKE_SQL_DIR"):
        render(repair(mode="msck_repair", snapshot=None, location=None))


def snapshots_table(lake) -> None:
    """``orders_snapshots`` in Glue with no partition yet, as Athena's repair step finds it."""
    lake.glue.create_database(DatabaseInput={"Name": DATABASE})
    columns = glue_table.glue_columns(SCHEMA_V1)
    lake.glue.create_table(DatabaseName=DATABASE, TableInput=glue_table.table_input(
        "orders_snapshots", columns, "s3://lake/mirror/snapshots/orders/", partitioned=True))


def glue_partitions(lake) -> dict[str, str]:
    listed = lake.glue.get_partitions(DatabaseName=DATABASE, TableName="orders_snapshots")["Partitions"]
    return {p["Values"][0]: p["StorageDescriptor"]["Location"] for p in listed}


def athena_count(stamp: str) -> int:
    from ddb_lake.hooks.snapshot_counts import SnapshotCountsHook

    count, _statistics = SnapshotCountsHook().athena_count(
        athena_sql.count_rows(DATABASE, "orders_snapshots", stamp), database=DATABASE, output_location=OUTPUT
    )
    return count


@pytest.mark.integration
def test_add_partition_runs_through_athena_with_a_deterministic_token(lake):
    snapshots_table(lake)
    lake.write_snapshot(STAMP, rows(3))
    operator = repair()
    result = operator.execute({"ti": SimpleNamespace(try_number=1)})
    assert result["state"] == "SUCCEEDED"
    execution = lake.athena.get_query_execution(QueryExecutionId=result["query_execution_id"])["QueryExecution"]
    assert execution["Query"] == athena_sql.add_partition(DATABASE, "orders_snapshots", {"snapshot": STAMP}, LOCATION)
    assert execution["QueryExecutionContext"]["Database"] == DATABASE
    assert execution["ResultConfiguration"]["OutputLocation"].startswith(OUTPUT)
    assert glue_partitions(lake) == {STAMP: LOCATION + "/"}
    assert athena_count(STAMP) == 3
    same_try = repair().execute({"ti": SimpleNamespace(try_number=1)})
    next_try = repair().execute({"ti": SimpleNamespace(try_number=2)})
    assert same_try["client_request_token"] == result["client_request_token"]
    assert same_try["query_execution_id"] == result["query_execution_id"], "same token: Athena starts no new query"
    assert next_try["client_request_token"] != result["client_request_token"]
    assert next_try["query_execution_id"] != result["query_execution_id"] and next_try["state"] == "SUCCEEDED"
    assert glue_partitions(lake) == {STAMP: LOCATION + "/"}, "IF NOT EXISTS: the rerun changes nothing"
    assert 32 <= len(result["client_request_token"]) <= 128


@pytest.mark.integration
def test_a_new_run_after_the_cause_is_fixed_runs_afresh_while_a_resend_reattaches(lake):
    failed_run = {"ti": SimpleNamespace(try_number=1), "run_id": "scheduled__2026-11-22T00:00:00+00:00"}
    with pytest.raises(Exception, match="ended FAILED") as failed:
        repair().execute(failed_run)  # the snapshots table is missing
    failed_id = lake.athena.list_query_executions()["QueryExecutionIds"]
    snapshots_table(lake)  # the cause is fixed
    lake.write_snapshot(STAMP, rows(3))
    with pytest.raises(Exception, match="ended FAILED"):
        repair().execute(failed_run)  # a re-send within that try gets the same (FAILED) execution back
    assert lake.athena.list_query_executions()["QueryExecutionIds"] == failed_id, "no second query started"
    new_run = repair().execute({"ti": SimpleNamespace(try_number=1), "run_id": "manual__2026-11-22T09:00:00+00:00"})
    assert new_run["state"] == "SUCCEEDED" and new_run["query_execution_id"] not in failed_id
    assert glue_partitions(lake) == {STAMP: LOCATION + "/"} and athena_count(STAMP) == 3
    assert "orders_snapshots" in str(failed.value)


@pytest.mark.integration
def test_add_partition_on_a_table_glue_does_not_have_fails_with_athenas_reason(lake):
    with pytest.raises(Exception, match=r"ended FAILED: .*TABLE_NOT_FOUND|ended FAILED: .*does not exist") as failed:
        repair().execute({"ti": SimpleNamespace(try_number=1)})
    assert isinstance(failed.value.__cause__, TerminalServiceError)  # a user error Athena does not retry: fail fast


@pytest.mark.integration
def test_msck_repair_runs_through_athena(lake):
    snapshots_table(lake)
    lake.write_snapshot(STAMP, rows(2))
    lake.write_snapshot("20261123T000000Z", rows(4))
    result = repair(mode="msck_repair").execute({})
    execution = lake.athena.get_query_execution(QueryExecutionId=result["query_execution_id"])["QueryExecution"]
    assert execution["Query"] == "MSCK REPAIR TABLE `ddb_lake`.`orders_snapshots`"
    assert glue_partitions(lake) == {
        STAMP: LOCATION + "/", "20261123T000000Z": "s3://lake/mirror/snapshots/orders/snapshot=20261123T000000Z/"}
    assert athena_count("20261123T000000Z") == 4


def test_a_table_yaml_with_repair_msck_builds_an_msck_repair_task(tmp_path):
    from ddb_lake.core.config.table_config import load_table_config
    from ddb_lake.dag_factory.table_dag import build_table_dag

    yaml_text = (SQL_DIR.parent / "tables" / "orders.yaml").read_text()
    assert "repair: add_partition" in yaml_text
    table_file = tmp_path / "orders.yaml"
    table_file.write_text(yaml_text.replace("repair: add_partition", "repair: msck"))

    task = build_table_dag(load_table_config(table_file), "full").get_task("lake.athena_partitions")

    assert task.mode == "msck_repair"
    assert task.build_sql().startswith("MSCK REPAIR TABLE ")
