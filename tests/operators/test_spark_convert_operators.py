"""The Spark engine's two operators around the EMR Serverless job: its planned arguments, and the summary read back."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from ddb_lake.compat import AirflowFailException
from ddb_lake.core.convert.converter import convert_export
from ddb_lake.core.convert.export_writer import item_line, write_export
from ddb_lake.core.errors import NotFoundError
from ddb_lake.operators.spark_convert import SparkConvertPlanOperator, SparkConvertResultOperator

RUN = "manual__2026-11-22T00:00:00+00:00"


def _context(try_number: int = 1) -> dict:
    return {"run_id": RUN, "ti": SimpleNamespace(try_number=try_number)}


def _export(folder: Path) -> dict:
    return {"export_folder": str(folder), "table_name": "orders", "item_count": 2,
            "key_schema": [{"attribute": "pk", "type": "S"}]}


def test_plan_names_the_runs_folders_and_passes_the_settings(tmp_path: Path):
    common = {"export": _export(tmp_path / "export"), "attempts_url": "s3://lake/s/_attempts/snapshot=x",
              "snapshot": "x", "numbers": "exact", "columns": {"price": "decimal(18,4)"},
              "converter_options": {"target_file_bytes": 1 << 20}, "aws_conn_id": None}
    plan = SparkConvertPlanOperator(task_id="convert_spark_plan", code_url="s3://code/spark", slices=8, **common)
    first, retry = plan.execute(_context(1)), plan.execute(_context(2))
    assert first == retry  # a retry of the plan names the same folders: the job's own rules replace its files
    dest = first["dest"]
    assert dest.startswith("s3://lake/s/_attempts/snapshot=x/attempt=manual-2026-11-22t00-00-00-00-00-")
    assert dest.endswith("-spark") and "-try" not in dest
    arguments = first["job_driver"]["sparkSubmit"]["entryPointArguments"]
    assert arguments[:8] == ["--source", str(tmp_path / "export"), "--dest", dest, "--slices-url",
                             f"{dest}-slices", "--slices", "8"]
    assert json.loads(arguments[9]) == {
        "numbers": "exact", "pins": {"price": "decimal(18,4)"}, "key_attributes": [{"attribute": "pk", "type": "S"}],
        "expected_items": 2, "previous_schema": None, "target_file_bytes": 1 << 20}
    assert first["name"].startswith("ddb-lake-orders-manual-2026-11-22")


def test_result_returns_the_jobs_manifest_as_the_convert_summary(tmp_path: Path):
    src = write_export(tmp_path / "in" / "AWSDynamoDB" / "01700000000000-sparkres",
                       [[item_line({"pk": {"S": "a"}}), item_line({"pk": {"S": "b"}})]])
    dest = tmp_path / "attempt=run-1-spark"
    written = convert_export(str(src), str(dest))
    result = SparkConvertResultOperator(task_id="convert", spark_plan={"dest": str(dest)}, export=_export(src),
                                        attempts_url=str(tmp_path), snapshot="x", aws_conn_id=None)
    summary = result.execute(_context())
    assert summary == {**json.loads((dest / "_manifest.json").read_text()), "snapshot_prefix": str(dest),
                       "snapshot": "x", "attempt": "run-1-spark", "table_name": "orders"}
    assert summary["items"] == written["items"] == 2
    missing = SparkConvertResultOperator(task_id="convert", spark_plan={"dest": str(tmp_path / "none")},
                                         export=_export(src), attempts_url=str(tmp_path), snapshot="x",
                                         aws_conn_id=None)
    with pytest.raises(AirflowFailException, match=r"Table orders: the Spark job left no _manifest.json in .*none; "
                       r"read its driver log .*\[terminal: not retried\]") as raised:
        missing.execute(_context())
    assert isinstance(raised.value.__cause__, NotFoundError)
