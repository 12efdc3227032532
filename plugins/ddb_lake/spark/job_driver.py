"""The EMR Serverless ``jobDriver`` that runs ``convert_job.py`` (pure: no Spark, no Airflow, no AWS calls)."""

from __future__ import annotations

import json
from typing import Any

from ddb_lake.core.convert.storage import join_url

JOB_SCRIPT = "convert_job.py"
PY_FILES = "ddb_lake.zip"
ARCHIVE = "pyspark_env.tar.gz"


def spark_job_driver(code_url: str, *, source: str, dest: str, slices_url: str, slices: int,
                     options: dict[str, Any]) -> dict[str, Any]:
    """``{"sparkSubmit": ...}`` for StartJobRun: the job script, its arguments and the packaged environment.

    ``code_url`` is the S3 folder ``scripts/spark_package.py`` output was uploaded to: ``convert_job.py``,
    ``ddb_lake.zip`` (the package, on ``--py-files``) and ``pyspark_env.tar.gz`` (pyarrow and numpy, unpacked as
    ``./environment`` on the driver and every executor).
    """
    environment = "./environment/bin/python"
    parameters = [
        f"--conf spark.archives={join_url(code_url, ARCHIVE)}#environment",
        f"--conf spark.emr-serverless.driverEnv.PYSPARK_DRIVER_PYTHON={environment}",
        f"--conf spark.emr-serverless.driverEnv.PYSPARK_PYTHON={environment}",
        f"--conf spark.executorEnv.PYSPARK_PYTHON={environment}",
        f"--py-files {join_url(code_url, PY_FILES)}",
    ]
    arguments = ["--source", source, "--dest", dest, "--slices-url", slices_url, "--slices", str(slices),
                 "--options", json.dumps(options, sort_keys=True)]
    return {"sparkSubmit": {"entryPoint": join_url(code_url, JOB_SCRIPT), "entryPointArguments": arguments,
                            "sparkSubmitParameters": " ".join(parameters)}}
