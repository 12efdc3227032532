"""The EMR Serverless job driver for the Spark engine, and the package the job ships with (exact values)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from ddb_lake.spark.job_driver import spark_job_driver

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_job_driver_names_script_environment_and_arguments():
    driver = spark_job_driver("s3://code/ddb-lake/spark/", source="s3://lake/exports/AWSDynamoDB/0170-a",
                              dest="s3://lake/s/_attempts/snapshot=x/attempt=run-1-spark",
                              slices_url="s3://lake/s/_attempts/snapshot=x/attempt=run-1-spark-slices", slices=64,
                              options={"numbers": "exact", "pins": {}})
    assert driver == {"sparkSubmit": {
        "entryPoint": "s3://code/ddb-lake/spark/convert_job.py",
        "entryPointArguments": [
            "--source", "s3://lake/exports/AWSDynamoDB/0170-a",
            "--dest", "s3://lake/s/_attempts/snapshot=x/attempt=run-1-spark",
            "--slices-url", "s3://lake/s/_attempts/snapshot=x/attempt=run-1-spark-slices",
            "--slices", "64", "--options", '{"numbers": "exact", "pins": {}}'],
        "sparkSubmitParameters": (
            "--conf spark.archives=s3://code/ddb-lake/spark/pyspark_env.tar.gz#environment "
            "--conf spark.emr-serverless.driverEnv.PYSPARK_DRIVER_PYTHON=./environment/bin/python "
            "--conf spark.emr-serverless.driverEnv.PYSPARK_PYTHON=./environment/bin/python "
            "--conf spark.executorEnv.PYSPARK_PYTHON=./environment/bin/python "
            "--py-files s3://code/ddb-lake/spark/ddb_lake.zip"),
    }}
    assert json.loads(driver["sparkSubmit"]["entryPointArguments"][-1]) == {"numbers": "exact", "pins": {}}


def test_package_holds_the_job_and_the_core_and_imports_without_airflow(tmp_path: Path):
    subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "spark_package.py"), str(tmp_path)], check=True,
                   capture_output=True, timeout=60)
    assert (tmp_path / "convert_job.py").read_text() == (
        REPO_ROOT / "plugins" / "ddb_lake" / "spark" / "convert_job.py").read_text()
    names = zipfile.ZipFile(tmp_path / "ddb_lake.zip").namelist()
    assert "ddb_lake/core/convert/export_slices.py" in names and "ddb_lake/spark/convert_job.py" in names
    assert not [n for n in names if n.startswith(("ddb_lake/operators", "ddb_lake/hooks", "ddb_lake/dag_factory"))]
    probe = ("import sys, ddb_lake.spark.convert_job; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('airflow', 'yaml', 'pyspark')))")
    found = subprocess.run([sys.executable, "-c", probe], env={"PYTHONPATH": str(tmp_path / "ddb_lake.zip")},
                           capture_output=True, text=True, timeout=60, check=True)
    assert found.stdout.strip() == "[]"  # the job imports Spark only in main(), and nothing of Airflow
