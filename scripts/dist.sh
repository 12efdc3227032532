#!/usr/bin/env bash
# Build what deployments take: the provider wheel, an MWAA bundle (plugins.zip + requirements.txt + dags/) and a
# Composer-ready folder (dags/ with the table files beside them, plugins/ for plugin-folder installs).
#   dist/ddb_lake-<version>-py3-none-any.whl
#   dist/mwaa/{plugins.zip,requirements.txt,dags/}
#   dist/composer/{dags/,plugins/,requirements.txt}
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
rm -rf dist build plugins/*.egg-info
mkdir -p dist
"$PY" -m pip wheel --quiet --no-deps --wheel-dir dist .
WHEEL="$(basename "$(ls dist/ddb_lake-*.whl)")"

bundle_dags() {  # $1: target dags folder; DAG files, the table settings in dags/tables/, the Athena SQL in dags/sql/
  mkdir -p "$1/tables" "$1/sql"
  cp dags/*.py "$1/"
  cp include/tables/*.yaml "$1/tables/"
  cp include/sql/*.sql "$1/sql/"
}

# MWAA: the wheel travels inside plugins.zip; requirements.txt installs it from the plugins folder.
mkdir -p dist/mwaa/plugins-src
cp "dist/$WHEEL" dist/mwaa/plugins-src/
cp -r plugins/ddb_lake dist/mwaa/plugins-src/
find dist/mwaa/plugins-src -name __pycache__ -prune -exec rm -rf {} +
(cd dist/mwaa/plugins-src && "$OLDPWD/$PY" -m zipfile -c ../plugins.zip ./*)
rm -rf dist/mwaa/plugins-src
{
  echo "apache-airflow-providers-amazon[aiobotocore]"
  echo "apache-airflow-providers-google"
  echo "/usr/local/airflow/plugins/$WHEEL"
} > dist/mwaa/requirements.txt
bundle_dags dist/mwaa/dags

# Composer: PyPI-style install of the wheel (or copy plugins/ddb_lake into the environment's plugins folder).
bundle_dags dist/composer/dags
mkdir -p dist/composer/plugins
cp -r plugins/ddb_lake dist/composer/plugins/
find dist/composer/plugins -name __pycache__ -prune -exec rm -rf {} +
cp "dist/$WHEEL" dist/composer/
echo "./$WHEEL" > dist/composer/requirements.txt

echo "built:"
find dist -maxdepth 2 -type f | sort
