"""Build what the Spark engine's EMR Serverless job needs, into one folder to upload to ``convert.spark_code_url``.

    .venv/bin/python scripts/spark_package.py dist/spark
    aws s3 cp --recursive dist/spark s3://my-bucket/ddb-lake/spark/

Writes ``convert_job.py`` (the entry point) and ``ddb_lake.zip`` (``ddb_lake.core`` and ``ddb_lake.spark``: the job
imports nothing else of the package, and no Airflow). The third file, ``pyspark_env.tar.gz`` (pyarrow, numpy and
isal for the driver and executors), is built on Amazon Linux 2023 / x86_64 or arm64 as the application runs, from
``requirements-spark.txt`` without pyspark (EMR provides Spark), with venv-pack; the command is printed at the end.
"""

from __future__ import annotations

import shutil
import sys
import zipfile
from pathlib import Path

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"
PACKAGES = ("ddb_lake/__init__.py", "ddb_lake/core", "ddb_lake/spark")


def build(out: Path) -> list[Path]:
    """Write ``convert_job.py`` and ``ddb_lake.zip`` into ``out``; return them."""
    out.mkdir(parents=True, exist_ok=True)
    job = out / "convert_job.py"
    shutil.copyfile(PLUGINS / "ddb_lake" / "spark" / "convert_job.py", job)
    archive = out / "ddb_lake.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for entry in PACKAGES:
            path = PLUGINS / entry
            files = [path] if path.is_file() else sorted(p for p in path.rglob("*.py"))
            for file in files:
                zipped.write(file, file.relative_to(PLUGINS).as_posix())
    return [job, archive]


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "dist/spark")
    for path in build(out):
        print(path)
    print("then, on the application's OS and architecture: python3.11 -m venv env && env/bin/pip install "
          "pyarrow==26.0.1 numpy==2.4.6 isal==1.9.1 venv-pack && env/bin/venv-pack -o "
          f"{out / 'pyspark_env.tar.gz'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
