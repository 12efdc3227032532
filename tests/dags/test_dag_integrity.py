"""Every file in dags/ imports cleanly, touches no network at import, and builds DAGs with retries and docs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((REPO_ROOT / "dags").glob("*.py"))

# Runs in a fresh interpreter: any socket connect during import fails loudly, then the DagBag reports.
PROBE = r"""
import json, os, socket, sys, time
def refuse(*args, **kwargs):
    raise RuntimeError(f"network access at DAG import time: {args!r}")
socket.socket.connect = refuse
socket.create_connection = refuse
from airflow.models import DagBag
started = time.monotonic()
bag = DagBag(dag_folder=sys.argv[1])
seconds = time.monotonic() - started
out = {"errors": {k: str(v) for k, v in bag.import_errors.items()}, "seconds": seconds, "dags": {}}
for dag_id, dag in bag.dags.items():
    out["dags"][dag_id] = {
        "doc_md": bool(dag.doc_md), "tags": sorted(dag.tags), "max_active_runs": dag.max_active_runs,
        "tasks": {t.task_id: {"retries": t.retries, "timeout": t.execution_timeout is not None} for t in dag.tasks},
    }
print("PROBE:" + json.dumps(out))
"""


def probe(dag_file: Path, tmp_path: Path) -> dict:
    env = {
        "PATH": str(Path(sys.executable).parent), "AIRFLOW_HOME": str(tmp_path), "HOME": str(tmp_path),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "DDB_LAKE_TABLES_DIR": str(REPO_ROOT / "include" / "tables"),
        "PYTHONPATH": str(REPO_ROOT / "plugins"),
    }
    result = subprocess.run([sys.executable, "-c", PROBE, str(dag_file)], capture_output=True, text=True, env=env,
                            timeout=300, check=False)
    lines = [line for line in result.stdout.splitlines() if line.startswith("PROBE:")]
    assert lines, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(lines[0][len("PROBE:"):])


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, dict]:
    """Each DAG file's probe, run once for every test of this module."""
    return {f.name: probe(f, tmp_path_factory.mktemp(f.stem)) for f in DAG_FILES}


def test_there_are_dag_files():
    assert DAG_FILES, "dags/ holds no DAG files"


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=[p.name for p in DAG_FILES])
def test_dag_file_imports_without_network_and_sets_retries(dag_file, reports):
    report = reports[dag_file.name]
    assert report["errors"] == {}
    assert report["dags"], f"{dag_file.name} defines no DAG"
    assert report["seconds"] < 30
    for dag_id, dag in report["dags"].items():
        assert dag["doc_md"], dag_id
        assert "ddb-lake" in dag["tags"], dag_id
        assert dag["max_active_runs"] == 1, dag_id
        for task_id, task in dag["tasks"].items():
            assert task["retries"] >= 1, f"{dag_id}.{task_id} has no retries"
            assert task["timeout"], f"{dag_id}.{task_id} has no execution_timeout"


def test_table_files_become_the_expected_dags_and_tasks(reports):
    report = reports["ddb_lake_tables.py"]
    dags = report["dags"]
    assert {"ddb_lake__orders", "ddb_lake__customers", "ddb_lake__customers__incremental"} <= set(dags)
    orders = set(dags["ddb_lake__orders"]["tasks"])
    assert orders == {
        "plan", "contract", "export", "convert_slice_plan", "convert_slice", "convert", "lake.lifecycle",
        "lake.catalog", "lake.athena_partitions", "bigquery.transfer_to_gcs", "bigquery.load",
        "bigquery.staging_lifecycle", "bigquery.publish", "validate", "publish", "retention", "report",
    }
    lake_only = set(dags["ddb_lake__customers"]["tasks"])
    assert not any(t.startswith("bigquery.") for t in lake_only) and "publish" in lake_only
    incremental = set(dags["ddb_lake__customers__incremental"]["tasks"])
    assert "publish" not in incremental
    assert {"plan", "export", "convert_slice_plan", "convert_slice", "convert", "lake.lifecycle", "validate",
            "report"} <= incremental  # convert.engine unset: auto's shape in both modes (docs/scaling.md)
    assert "contract" not in incremental  # the changes table keeps no contract (docs/conversion.md)
