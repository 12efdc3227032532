#!/usr/bin/env bash
# Build what deployments take (docs/deploy.md): the provider wheel, an MWAA bundle and a Composer bundle.
#   <dist>/ddb_lake-<version>-cp311-abi3-<platform>.whl  (with the native JSON parser, for this machine's platform;
#                                                         DDB_LAKE_NO_NATIVE=1: ddb_lake-<version>-py3-none-any.whl)
#   <dist>/mwaa/{plugins.zip,requirements.txt,dags/}        plugins.zip: the wheel (one copy of the code), and with
#                                                            DDB_LAKE_OFFLINE_WHEELS every wheel it needs (no PyPI)
#   <dist>/composer/{requirements.txt,requirements-plugins-folder.txt,dags/,plugins/,<wheel>}
# Bundles carry no table files: dags/tables/ holds only a README; add your own tables' YAML there.
#
# Settings (environment):
#   DIST_DIR                  output folder (default: dist)
#   AIRFLOW_VERSION           the MWAA environment's Airflow, for the --constraint line (default: the lock's)
#   CONSTRAINTS_PYTHON        its Python minor version (default: 3.11)
#   AMAZON_PROVIDER_VERSION   pins in MWAA's requirements.txt (default: the lock's); must be the versions in the
#   GOOGLE_PROVIDER_VERSION   constraints file of AIRFLOW_VERSION
#   DDB_LAKE_OFFLINE_WHEELS   a folder of wheels (pip download, see docs/deploy.md) for MWAA without PyPI access
#   DDB_LAKE_WHEEL            bundle this already built wheel instead of building one
#   DDB_LAKE_NO_NATIVE=1      a pure-Python wheel (no native JSON parser: pyarrow's reader, slower), any platform
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
case "$PY" in /*) ;; *) PY="$PWD/$PY" ;; esac  # absolute, not resolved: a venv's python is a symlink
DIST="${DIST_DIR:-dist}"
mkdir -p "$DIST"
DIST="$(cd "$DIST" && pwd)"
locked() { sed -n "s/^$1==//p" requirements-lock.txt; }
AIRFLOW_VERSION="${AIRFLOW_VERSION:-$(locked apache-airflow)}"
CONSTRAINTS_PYTHON="${CONSTRAINTS_PYTHON:-3.11}"
AMAZON_PROVIDER_VERSION="${AMAZON_PROVIDER_VERSION:-$(locked apache-airflow-providers-amazon)}"
GOOGLE_PROVIDER_VERSION="${GOOGLE_PROVIDER_VERSION:-$(locked apache-airflow-providers-google)}"

rm -rf "$DIST/mwaa" "$DIST/composer" "$DIST"/ddb_lake-*.whl build plugins/*.egg-info
if [[ -n "${DDB_LAKE_WHEEL:-}" ]]; then
  cp "$DDB_LAKE_WHEEL" "$DIST/"
else
  "$PY" -m pip wheel --quiet --no-deps --wheel-dir "$DIST" .
  rm -rf build plugins/*.egg-info
fi
WHEEL="$(basename "$(ls "$DIST"/ddb_lake-*.whl)")"
VERSION="$(echo "$WHEEL" | cut -d- -f2)"

bundle_dags() {  # $1: target dags folder; the DAG file, an empty tables/ folder, the Athena SQL in dags/sql/
  mkdir -p "$1/tables" "$1/sql"
  cp dags/*.py "$1/"
  cp include/sql/*.sql "$1/sql/"
  cat > "$1/tables/README.md" <<'EOF'
One YAML file per DynamoDB table goes here (see docs/table-settings.md in the ddb-lake repository;
`ddb-lake validate-config dags/tables` checks them). The bundle ships none: the repository's include/tables/ are demo
tables for the local stack.
EOF
}

# MWAA: plugins.zip carries the wheel once; requirements.txt installs it from the unpacked plugins folder under the
# Airflow release's constraints, with the providers pinned.
mkdir -p "$DIST/mwaa/plugins-src"
cp "$DIST/$WHEEL" "$DIST/mwaa/plugins-src/"
if [[ -n "${DDB_LAKE_OFFLINE_WHEELS:-}" ]]; then
  cp "$DDB_LAKE_OFFLINE_WHEELS"/*.whl "$DIST/mwaa/plugins-src/"
fi
(cd "$DIST/mwaa/plugins-src" && "$PY" -m zipfile -c ../plugins.zip ./*)
rm -rf "$DIST/mwaa/plugins-src"
{
  echo "--constraint \"https://raw.githubusercontent.com/apache/airflow/constraints-${AIRFLOW_VERSION}/constraints-${CONSTRAINTS_PYTHON}.txt\""
  if [[ -n "${DDB_LAKE_OFFLINE_WHEELS:-}" ]]; then
    echo "--no-index"
    echo "--find-links /usr/local/airflow/plugins"
  fi
  echo "apache-airflow-providers-amazon[aiobotocore]==${AMAZON_PROVIDER_VERSION}"
  echo "apache-airflow-providers-google==${GOOGLE_PROVIDER_VERSION}"
  echo "/usr/local/airflow/plugins/$WHEEL"
} > "$DIST/mwaa/requirements.txt"
bundle_dags "$DIST/mwaa/dags"

# Composer takes PEP 508 requirements only. Route 1: the wheel in a private package repository (Artifact Registry),
# requirements.txt names it. Route 2: plugins/ddb_lake copied into the bucket's plugins folder, and
# requirements-plugins-folder.txt installs its dependencies (the ones Composer's image may lack).
bundle_dags "$DIST/composer/dags"
mkdir -p "$DIST/composer/plugins"
cp -r plugins/ddb_lake "$DIST/composer/plugins/"
find "$DIST/composer/plugins" -name __pycache__ -prune -exec rm -rf {} +
# the plugins-folder route is pure Python: no parser built for this machine, no C source (pyarrow's reader parses)
find "$DIST/composer/plugins" \( -name '*.so' -o -name '*.c' \) -delete
cp "$DIST/$WHEEL" "$DIST/composer/"
echo "ddb-lake==$VERSION" > "$DIST/composer/requirements.txt"
"$PY" - "$DIST/composer/requirements-plugins-folder.txt" <<'EOF'
import sys, tomllib
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
open(sys.argv[1], "w").write("".join(f"{d}\n" for d in deps))
EOF

echo "built:"
find "$DIST" -maxdepth 2 -type f | sort
