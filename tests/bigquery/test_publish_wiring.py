"""The DAG gates BigQuery behind validation: staged load, publish after validate, the asset event only on publish."""

from __future__ import annotations

from pathlib import Path

import yaml

from ddb_lake.core.config.table_config import load_table_config
from ddb_lake.dag_factory.table_dag import build_table_dag

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_bigquery_is_loaded_to_staging_and_published_after_validation(tmp_path):
    data = yaml.safe_load((REPO_ROOT / "include" / "tables" / "orders.yaml").read_text())
    data["bigquery"].update(staging_days=3, force_rerun=True, partition_expiration_days=30)
    path = tmp_path / "orders.yaml"
    path.write_text(yaml.safe_dump(data))
    tasks = build_table_dag(load_table_config(path)).task_dict

    load, publish, validate = tasks["bigquery.load"], tasks["bigquery.publish"], tasks["validate"]
    assert (load.stage, load.staging_days, load.force_rerun) == (True, 3, True)
    assert load.outlets == [] and len(publish.outlets) == 1  # the BigQuery asset event fires only at publish
    assert str(publish.outlets[0].uri).startswith("bigquery://")
    assert "validate" in publish.upstream_task_ids and "bigquery.load" in publish.upstream_task_ids
    assert "bigquery.publish" not in validate.upstream_task_ids
    assert {"bigquery.load", "bigquery.staging_lifecycle"} <= validate.upstream_task_ids
    assert publish.partition_expiration_days == 30
    assert "bigquery.publish" in tasks["report"].upstream_task_ids
    assert tasks["report"].trigger_rule == "none_failed"  # a skipped publish (newer interval live) still reports
