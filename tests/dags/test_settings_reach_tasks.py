"""Every knob of a table's YAML reaches the operator that uses it (they were once documented but unreachable)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import yaml

from ddb_lake.core.config.table_config import load_table_config
from ddb_lake.dag_factory.table_dag import build_table_dag

REPO_ROOT = Path(__file__).resolve().parents[2]


def build(tmp_path: Path, **overrides) -> dict:
    data = yaml.safe_load((REPO_ROOT / "include" / "tables" / "orders.yaml").read_text())
    for section, values in overrides.items():
        data[section] = {**data.get(section, {}), **values}
    path = tmp_path / "orders.yaml"
    path.write_text(yaml.safe_dump(data))
    return build_table_dag(load_table_config(path)).task_dict


def test_yaml_knobs_reach_their_operators(tmp_path):
    tasks = build(
        tmp_path,
        lake={"allow_rollback": True},
        glue={"partition_projection": False},  # true is refused since convert writes attempt folders
        convert={"target_file_mb": 32, "row_group_rows": 5000, "compression": "snappy", "workers": 1},
        bigquery={"transfer_method": "auto", "partition_expiration_days": 30, "force_rerun": True, "staging_days": 2},
        retention={"grace_hours": 6, "keep_last": 4, "raw_export_days": 3, "changes_days": 90},
    )
    assert tasks["publish"].allow_rollback is True
    assert tasks["lake.catalog"].partition_projection is False
    assert tasks["convert"].converter_options == {
        "target_file_bytes": 32 << 20, "row_group_rows": 5000, "compression": "snappy", "workers": 1,
    }
    assert tasks["bigquery.transfer_to_gcs"].transfer_method == "auto"
    assert tasks["bigquery.load"].partition_expiration_days == 30
    assert tasks["bigquery.load"].force_rerun is True
    assert (tasks["retention"].grace_period, tasks["retention"].keep_last) == (timedelta(hours=6), 4)
    assert (tasks["lake.lifecycle"].raw_export_days, tasks["lake.lifecycle"].changes_days) == (3, 90)
    assert tasks["bigquery.staging_lifecycle"].staging_days == 2


def test_defaults_keep_todays_behaviour(tmp_path):
    tasks = build(tmp_path)
    assert tasks["publish"].allow_rollback is False
    assert tasks["lake.catalog"].partition_projection is False
    assert tasks["bigquery.transfer_to_gcs"].transfer_method == "stream"
    assert tasks["bigquery.load"].partition_expiration_days is None
    assert tasks["bigquery.load"].force_rerun is False
    assert (tasks["lake.lifecycle"].raw_export_days, tasks["lake.lifecycle"].changes_days) == (7, None)
    assert tasks["bigquery.staging_lifecycle"].staging_days == 7


def test_tasks_take_plan_values_and_results_as_xcomargs_only(tmp_path):
    """Every task after ``plan`` depends on it or on a task that does; none names another task's id in a string."""
    from ddb_lake.compat import AIRFLOW_V3

    xcom_arg = __import__("airflow.sdk" if AIRFLOW_V3 else "airflow.models.xcom_arg", fromlist=["XComArg"]).XComArg
    tasks = build(tmp_path)
    assert tasks["plan"].multiple_outputs is True
    assert isinstance(tasks["export"].s3_prefix, xcom_arg) and isinstance(tasks["convert"].export, xcom_arg)
    assert tasks["export"].upstream_task_ids == {"plan"}
    assert tasks["convert"].upstream_task_ids == {"plan", "export", "contract", "convert_slice"}  # engine auto
    assert tasks["convert_slice_plan"].upstream_task_ids == {"plan", "export", "contract"}
    assert tasks["contract"].multiple_outputs is True and isinstance(tasks["convert"].previous_schema, xcom_arg)
    assert tasks["convert"].previous_schema.key == "schema"  # the stored contract's schema, not the whole dict
    # the partition points at the attempt folder convert wrote (its summary), not at a planned folder
    assert tasks["lake.athena_partitions"].upstream_task_ids == {"convert", "lake.catalog"}
    assert {"plan", "convert", "bigquery.transfer_to_gcs"} <= tasks["bigquery.load"].upstream_task_ids
    for task in tasks.values():
        for name in task.template_fields:
            value = getattr(task, name, None)
            assert not (isinstance(value, str) and "xcom_pull" in value), f"{task.task_id}.{name}: {value}"
