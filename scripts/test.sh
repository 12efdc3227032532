#!/usr/bin/env bash
# The test command: installs what it needs (venvs), then lints and runs the whole suite.
# The suite starts and stops its own local stack (moto server, GCS and BigQuery emulators) on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
echo "== ruff"
.venv/bin/ruff check plugins dags include tests scripts bench
echo "== pytest"
set +e
.venv/bin/python -m pytest -p no:cacheprovider --timeout=600 -q --durations=25 "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$status"
