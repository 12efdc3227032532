"""``convert.engine: mapped`` wires slice plan → mapped convert_slice → convert (the commit) that later tasks read."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ddb_lake.core.config.table_config import TableConfigError, load_table_config
from ddb_lake.dag_factory.table_dag import build_table_dag

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_mapped_engine_fans_out_and_commits_in_convert(tmp_path):
    data = yaml.safe_load((REPO_ROOT / "include" / "tables" / "orders.yaml").read_text())
    data["convert"] = {**data.get("convert", {}), "engine": "mapped", "slices": 3, "workers": 1}
    path = tmp_path / "orders.yaml"
    path.write_text(yaml.safe_dump(data))
    dag = build_table_dag(load_table_config(path))
    tasks = dag.task_dict
    plan, slices, commit = tasks["convert_slice_plan"], tasks["convert_slice"], tasks["convert"]
    assert type(commit).__name__ == "UnifySlicesOperator" and plan.slices == 3
    assert type(slices).__name__ == "MappedOperator"
    assert slices.partial_kwargs["converter_options"] == {"target_file_bytes": 256 << 20,
                                                         "row_group_rows": 256 * 1024, "compression": "zstd",
                                                         "workers": 1}
    assert set(plan.upstream_task_ids) >= {"export", "plan"}
    assert set(slices.upstream_task_ids) >= {"convert_slice_plan", "contract"}
    assert "convert_slice" in commit.upstream_task_ids
    assert "convert" in tasks["lake.catalog"].upstream_task_ids or any(
        "convert" in tasks[t].upstream_task_ids for t in ("lake.lifecycle", "lake.catalog"))
    assert "convert" in tasks["publish"].upstream_task_ids or "validate" in tasks["publish"].upstream_task_ids


def test_unset_engine_is_auto_and_an_explicit_worker_keeps_one_convert_task(tmp_path):
    data = yaml.safe_load((REPO_ROOT / "include" / "tables" / "orders.yaml").read_text())
    assert "engine" not in data.get("convert", {})
    path = tmp_path / "orders.yaml"
    path.write_text(yaml.safe_dump(data))
    tasks = build_table_dag(load_table_config(path)).task_dict
    assert (tasks["convert_slice_plan"].auto, tasks["convert_slice_plan"].slices) == (True, 4)
    assert type(tasks["convert"]).__name__ == "UnifySlicesOperator"
    data["convert"] = {**data.get("convert", {}), "engine": "worker"}
    path.write_text(yaml.safe_dump(data))
    tasks = build_table_dag(load_table_config(path)).task_dict
    assert type(tasks["convert"]).__name__ == "ExportToParquetOperator"
    assert not {"convert_slice_plan", "convert_slice"} & set(tasks)
    assert tasks["convert"].upstream_task_ids == {"plan", "export", "contract"}


def test_spark_engine_submits_a_deferrable_emr_serverless_job(tmp_path):
    data = yaml.safe_load((REPO_ROOT / "include" / "tables" / "orders.yaml").read_text())
    data["convert"] = {**data.get("convert", {}), "engine": "spark", "slices": 64,
                       "spark_application_id": "00abc", "spark_role_arn": "arn:aws:iam::1:role/emr",
                       "spark_code_url": "s3://code/ddb-lake/spark"}
    path = tmp_path / "orders.yaml"
    path.write_text(yaml.safe_dump(data))
    tasks = build_table_dag(load_table_config(path)).task_dict
    job = tasks["convert_spark"]
    assert type(job).__name__ == "EmrServerlessStartJobOperator" and job.deferrable is True
    assert (job.application_id, job.execution_role_arn) == ("00abc", "arn:aws:iam::1:role/emr")
    spark_plan = tasks["convert_spark_plan"]
    assert (spark_plan.code_url, spark_plan.slices) == ("s3://code/ddb-lake/spark", 64)
    assert type(tasks["convert"]).__name__ == "SparkConvertResultOperator"
    assert {"convert_spark", "convert_spark_plan"} <= tasks["convert"].upstream_task_ids
    data["convert"].pop("spark_code_url")
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(TableConfigError) as raised:
        load_table_config(path)
    assert raised.value.field_name == "convert.spark_code_url"


def test_auto_engine_has_the_mapped_shape_and_sizes_slices_at_run_time(tmp_path):
    data = yaml.safe_load((REPO_ROOT / "include" / "tables" / "orders.yaml").read_text())
    data["convert"] = {**data.get("convert", {}), "engine": "auto", "slices": 32}
    path = tmp_path / "orders.yaml"
    path.write_text(yaml.safe_dump(data))
    tasks = build_table_dag(load_table_config(path)).task_dict
    plan = tasks["convert_slice_plan"]
    assert (plan.auto, plan.slices) == (True, 32)
    assert type(tasks["convert"]).__name__ == "UnifySlicesOperator"
    assert type(tasks["convert_slice"]).__name__ == "MappedOperator"
