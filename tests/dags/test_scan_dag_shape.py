"""export.mode scan: the full-mode DAG with the scan in place of export and wait; its YAML reaches the operator."""

from __future__ import annotations

from pathlib import Path

import yaml

from ddb_lake.core.config.table_config import load_table_config
from ddb_lake.dag_factory.table_dag import build_table_dags

REPO_ROOT = Path(__file__).resolve().parents[2]


def build(tmp_path: Path, scan: dict) -> dict:
    data = yaml.safe_load((REPO_ROOT / "include" / "tables" / "orders.yaml").read_text())
    data["export"] = {"mode": "scan", "scan": scan}
    (tmp_path / "orders.yaml").write_text(yaml.safe_dump(data))
    load_table_config(tmp_path / "orders.yaml")  # valid
    return build_table_dags(tmp_path)


def test_scan_mode_builds_the_full_dag_with_a_scan_export(tmp_path):
    dags = build(tmp_path, {"segments": 8, "read_capacity_share": 0.5, "consistent_read": True})
    assert list(dags) == ["ddb_lake__orders"]  # the full-mode DAG: snapshots, publish, BigQuery
    tasks = dags["ddb_lake__orders"].task_dict
    export = tasks["export"]
    assert type(export).__name__ == "DynamoDBScanExportOperator" and export.segment_group is None
    assert (export.scan["segments"], export.scan["read_capacity_share"], export.scan["consistent_read"]) == (8, 0.5,
                                                                                                            True)
    assert "export_segments" not in tasks
    assert export.upstream_task_ids == {"plan"} and {"export", "contract"} <= tasks["convert"].upstream_task_ids
    assert "export" in tasks["validate"].upstream_task_ids and "export" in tasks["report"].upstream_task_ids


def test_segment_groups_add_mapped_readers_before_the_export_task(tmp_path):
    tasks = build(tmp_path, {"segments": 8, "segment_groups": 4})["ddb_lake__orders"].task_dict
    readers = tasks["export_segments"]
    assert type(readers).__name__ == "MappedOperator"
    assert readers.expand_input.value == {"segment_group": [0, 1, 2, 3]}
    assert tasks["export"].upstream_task_ids == {"plan", "export_segments"}
