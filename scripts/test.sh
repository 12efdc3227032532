#!/usr/bin/env bash
# The test command: installs what it needs (venvs), then lints and runs the whole suite.
# The suite starts and stops its own local stack (moto server, GCS and BigQuery emulators) on 127.0.0.1.
# Tests run in DDB_LAKE_TEST_WORKERS pytest-xdist workers (default 3, also on 2 cores: a DAG-run test keeps about
# 0.85 of a core busy and waits on services the rest; each worker has its own stack and Airflow home);
# DDB_LAKE_TEST_WORKERS=0 runs them in this one process.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
echo "== ruff"
.venv/bin/ruff check plugins dags include tests scripts bench setup.py
echo "== pytest"
set +e
workers=${DDB_LAKE_TEST_WORKERS:-3}
parallel=()
[ "$workers" = 0 ] || parallel=(-n "$workers" --dist loadgroup)
.venv/bin/python -m pytest -p no:cacheprovider --timeout=600 -q --durations=25 "${parallel[@]}" "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$status"
