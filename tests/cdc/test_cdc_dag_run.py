"""The CDC DAG with ``airflow dags test`` on moto: run 1 bootstraps the Iceberg table (state → export → convert →
merge → validate) and finds no change file (``changes`` skipped, cleanup and expire still run); changes then go
through the stream driver and the handler; run 2 needs no export (``state`` and its branch skipped), ``changes``
runs anyway (trigger rule ``none_failed``) and the table equals a scan of the DynamoDB table. The ``bigquery`` task
loads the bootstrapped table in run 1 and applies run 2's changes (a staged MERGE): after each run the BigQuery
stand-in's table equals the DynamoDB scan too."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "e2e"))

import seed_demo  # noqa: E402
from airflow_runs import airflow_env, dags_test, run_states, table_file  # noqa: E402
from bigquery_items import bigquery_items, without_empty_lists  # noqa: E402
from item_compare import iceberg_items, set_attributes_of, sorted_items  # noqa: E402

from ddb_lake.core.config.table_config import load_table_config  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

DAG_ID = "ddb_lake__cdc_books__cdc"


def test_cdc_dag_bootstraps_then_merges_stream_changes_into_iceberg_and_bigquery(moto_reset, tmp_path, gcp_project):
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
    from cdc.stream_handler import ChangeWriter, handle_stream_event
    from stream_driver import StreamDriver

    from ddb_lake.dag_factory.table_dag import build_table_dags
    from ddb_lake.hooks import iceberg_merge as engine
    from ddb_lake.hooks.iceberg_catalog import IcebergCatalogHook

    path = table_file(tmp_path / "tables", "cdc_books", bigquery={"layout": "latest", "project": gcp_project},
                      export={"mode": "incremental", "check_recovery_window": False},
                      lake={"bucket": "cdc-books", "prefix": "lake", "format": "iceberg"})
    path.write_text(path.read_text() + "cdc: {schedule: '*/2 * * * *', settle_seconds: 1}\n")
    config = load_table_config(path)
    assert sorted(build_table_dags(tmp_path / "tables")) == [DAG_ID]
    env = airflow_env(tmp_path, tmp_path / "tables")
    seed_demo.seed_aws(config, 40)
    seed_demo.seed_google(config)
    bigquery_table = f"{config.bigquery.dataset}.{config.bigquery_table}"
    clients = {name: AwsBaseHook(aws_conn_id="aws_default", client_type=name, region_name="us-east-1").conn
               for name in ("dynamodb", "dynamodbstreams", "s3")}
    table_name = config.dynamodb.table_name
    clients["dynamodb"].update_table(TableName=table_name, StreamSpecification={
        "StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    stream_arn = clients["dynamodb"].describe_table(TableName=table_name)["Table"]["LatestStreamArn"]

    log = dags_test(env, DAG_ID, "2026-11-22T05:00:00+00:00", tmp_path / "run-1.log")
    assert [state for _, state in run_states(env, DAG_ID)] == ["success"], log[-4000:]
    table = IcebergCatalogHook(aws_conn_id="aws_default", region_name="us-east-1").load_table(
        config.glue.database, "cdc_books")
    assert engine.committed_state(table).rows == 40
    scanned = clients["dynamodb"].scan(TableName=table_name)["Items"]
    sets = set_attributes_of(scanned)
    assert without_empty_lists(bigquery_items(gcp_project, bigquery_table, engine.stored_schema(table), sets)) == \
        without_empty_lists(sorted_items(scanned))

    for item in scanned[:10]:
        clients["dynamodb"].put_item(TableName=table_name, Item={**item, "cdc_note": {"S": "changed ✓"}})
    for item in scanned[10:15]:
        clients["dynamodb"].delete_item(TableName=table_name, Key={k: item[k] for k in ("pk", "sk")})
    writer = ChangeWriter(clients["s3"], "cdc-books", "lake/cdc")
    assert StreamDriver(clients["dynamodbstreams"], stream_arn,
                        lambda event, _: handle_stream_event(event, writer)).drain() == 15

    log = dags_test(env, DAG_ID, "2026-11-22T05:02:00+00:00", tmp_path / "run-2.log")
    assert [state for _, state in run_states(env, DAG_ID)] == ["success", "success"], log[-4000:]
    table.refresh()
    scanned = clients["dynamodb"].scan(TableName=table_name)["Items"]
    assert len(scanned) == 35
    assert iceberg_items(table, engine.stored_schema(table), set_attributes_of(scanned)) == sorted_items(scanned)
    summary = table.current_snapshot().summary.additional_properties
    assert summary["ddb-lake.cdc-files"] == "1" and summary["ddb-lake.deletes"] == "5"
    assert without_empty_lists(bigquery_items(gcp_project, bigquery_table, engine.stored_schema(table),
                                              set_attributes_of(scanned))) == without_empty_lists(sorted_items(scanned))
    assert "BigQuery 35 rows" in log and "MERGE" in log  # the run's own log: the staged MERGE and its check
