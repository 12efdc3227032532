"""The BigQuery mirror's rules with exact values, its YAML rule, and its tasks in the Iceberg DAG (no services)."""

from __future__ import annotations

import sys
from itertools import pairwise
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from airflow_runs import table_file

from ddb_lake.core.config.table_config import TableConfigError, load_table_config
from ddb_lake.core.errors import ValidationFailedError
from ddb_lake.core.iceberg.arithmetic import KeyTotals
from ddb_lake.core.iceberg.bigquery_mirror import check_mirror, mirror_folders, mirror_layout_problem

ICEBERG = {"mode": "incremental"}


def test_only_the_latest_layout_mirrors_an_iceberg_table():
    assert mirror_layout_problem("iceberg", "latest") is None
    assert mirror_layout_problem("parquet", "partitioned") is None
    assert mirror_layout_problem("iceberg", "partitioned") == (
        "'partitioned' is refused with lake.format: iceberg: BigQuery mirrors the Iceberg current-state table into "
        "one table replaced whole at each run, not dated partitions or shards. Set bigquery.layout: latest")


def test_mirror_folders_name_the_snapshot_under_the_window_and_the_staging_root():
    assert mirror_folders("s3://lake/dynamodb/changes/books/snapshot=20261122T000000Z-20261122T010000Z/", "books",
                          "20261122T010000Z", 42) == (
        "s3://lake/dynamodb/changes/books/snapshot=20261122T000000Z-20261122T010000Z/bigquery/snapshot_id=42",
        "books/20261122T010000Z-42")


def test_check_mirror_passes_equal_totals_and_refuses_a_short_copy():
    same = KeyTotals(80, 156077136426)
    assert check_mirror("db.books", 7, "ds.books__stage_x", same, same) == (
        "BigQuery staging table ds.books__stage_x: 80 rows, key checksum 156077136426; Iceberg table db.books "
        "snapshot 7: 80 rows, key checksum 156077136426: match")
    with pytest.raises(ValidationFailedError, match=r"79 rows.*MISMATCH \(-1 rows\)\. Nothing was published"):
        check_mirror("db.books", 7, "ds.books__stage_x", same, KeyTotals(79, 156077136426 - 1234))
    with pytest.raises(ValidationFailedError, match=r"MISMATCH \(\+0 rows\)"):  # a swapped key: count right
        check_mirror("db.books", 7, "ds.books__stage_x", same, KeyTotals(80, 156077136427))


def test_an_iceberg_table_with_a_partitioned_bigquery_layout_is_refused_naming_file_and_field(tmp_path):
    path = table_file(tmp_path, "ice_bq", export=ICEBERG, lake={"format": "iceberg"},
                      bigquery={"layout": "partitioned"})
    with pytest.raises(TableConfigError, match=r"ice_bq\.yaml.*bigquery\.layout.*Set bigquery\.layout: latest"):
        load_table_config(path)


def test_the_iceberg_dag_mirrors_into_bigquery_after_validate(tmp_path):
    from ddb_lake.dag_factory.table_dag import build_table_dags

    table_file(tmp_path, "ice_bq", export=ICEBERG, lake={"format": "iceberg"}, bigquery={"layout": "latest"})
    dag = build_table_dags(tmp_path)["ddb_lake__ice_bq__incremental"]
    chain = ["validate", "bigquery.snapshot", "bigquery.transfer_to_gcs", "bigquery.load", "bigquery.validate",
             "bigquery.publish"]
    for before, after in pairwise(chain):
        assert before in dag.get_task(after).upstream_task_ids, (before, after)
    assert "bigquery.staging_lifecycle" in dag.task_ids
    publish = dag.get_task("bigquery.publish")
    assert [o.uri for o in publish.outlets] == ["bigquery://ddb-lake-demo/ice_bq_ds/ice_bq"]
    assert dag.get_task("bigquery.load").layout == "latest"
