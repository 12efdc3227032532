"""The Spark engine (pyspark local mode) writes exactly what the one-process converter writes: values, schema.

Needs pyspark in a venv of its own (``.venv-spark``: ``requirements-spark.txt``); skipped when it is absent. The job
runs as ``spark-submit`` would run it: a separate interpreter (that venv's python) with ``--master local[2]``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ddb_lake.core.convert.converter import convert_export
from ddb_lake.core.convert.export_writer import item_line, write_export

REPO_ROOT = Path(__file__).resolve().parents[2]
SPARK_PYTHON = Path(os.environ.get("DDB_LAKE_SPARK_PYTHON", REPO_ROOT / ".venv-spark" / "bin" / "python"))


def _has_pyspark() -> bool:
    if not SPARK_PYTHON.exists():
        return False
    probe = subprocess.run([str(SPARK_PYTHON), "-c", "import pyspark, pyarrow"], capture_output=True, timeout=60)
    return probe.returncode == 0


pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(not _has_pyspark(), reason=f"pyspark is not installed for {SPARK_PYTHON} (create .venv-spark "
                       "with python3.11 -m venv and pip install -r requirements-spark.txt, or set "
                       "DDB_LAKE_SPARK_PYTHON)"),
]

FILES = [
    [{"pk": {"S": f"a{i}"}, "n": {"N": str(i)}, "userId": {"S": "camel"}, "when": {"S": "2026-11-01T10:00:00Z"}}
     for i in range(50)],
    [{"pk": {"S": f"b{i}"}, "n": {"N": f"{i}.25"}, "extra": {"BOOL": True}, "m": {"M": {"k": {"N": "1"}}}}
     for i in range(50)],
    [{"pk": {"S": f"c{i}"}, "n": {"N": "7"}, "userid": {"S": "lower"}, "mixed": {"N": "1.50"}} for i in range(50)],
    [{"pk": {"S": f"d{i}"}, "n": {"N": str(-i)}, "mixed": {"S": "text"}, "tags": {"SS": ["x"]}} for i in range(50)],
]


def test_spark_local_mode_equals_the_worker_path(tmp_path: Path):
    src = write_export(tmp_path / "in" / "AWSDynamoDB" / "01700000000000-spark001",
                       [[item_line(item) for item in items] for items in FILES])
    worker = convert_export(str(src), str(tmp_path / "worker"), workers=1)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "plugins"), "PYSPARK_PYTHON": str(SPARK_PYTHON),
           "PYSPARK_DRIVER_PYTHON": str(SPARK_PYTHON)}
    command = [str(SPARK_PYTHON), "-m", "ddb_lake.spark.convert_job", "--source", str(src),
               "--dest", str(tmp_path / "spark"), "--slices-url", str(tmp_path / "slices"), "--slices", "4",
               "--master", "local[2]", "--options", json.dumps({"numbers": "exact"})]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    assert printed == {"items": 200, "dest": str(tmp_path / "spark"), "slices": 4,
                       "bytes_out": printed["bytes_out"], "engine": "spark"}
    manifest = json.loads((tmp_path / "spark" / "_manifest.json").read_text())
    assert manifest["schema"] == worker["schema"] and manifest["items"] == worker["items"]
    worker_table = pq.read_table(tmp_path / "worker").sort_by("pk")
    spark_table = pq.read_table(tmp_path / "spark").sort_by("pk")
    assert spark_table.schema.equals(worker_table.schema, check_metadata=True)
    assert spark_table.equals(worker_table)
    first = pq.ParquetFile(next((tmp_path / "spark").glob("part-*.parquet"))).schema_arrow
    assert first.metadata[b"ddb_lake.schema"] == pq.ParquetFile(
        next((tmp_path / "worker").glob("part-*.parquet"))).schema_arrow.metadata[b"ddb_lake.schema"]
    assert len(list((tmp_path / "slices").glob("slice=*/_slice.json"))) == 4  # one Spark task per slice
