#!/usr/bin/env bash
# Check the ddb_lake provider and DAGs on Airflow 2.11: build .venv-af2/ (idempotent), run the suites that pass there.
#
#   bash scripts/check_airflow2.sh           # venv + DAG parsing, provider, compat, unit, operator, BigQuery, stack suites
#   bash scripts/check_airflow2.sh --e2e     # ... and tests/e2e (airflow dags test of the incremental and backfill DAGs)
#   bash scripts/check_airflow2.sh --demo    # ... and the demo DAG (orders) end to end with airflow dags test
#   bash scripts/check_airflow2.sh --backfill  # ... and two intervals of it with airflow dags backfill + triggerer
#   bash scripts/check_airflow2.sh --venv    # only build or confirm .venv-af2/
#
# .venv-af2/ is built by `scripts/bootstrap.sh airflow2` from requirements-airflow2-lock.txt (requirements-airflow2.txt
# if the lock does not install), plus this repo editable; its stamp skips the install when nothing changed.
# The local stack (moto server, emulators) keeps running from .venv/ and .venv-emulators/, which scripts/bootstrap.sh
# builds; the tests run in .venv-af2's interpreter with an Airflow home of their own, never the 3.x one's database.
# Not part of scripts/test.sh (CI time budget): about 2 min of install once, then about 3 min of tests.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO_ROOT=$(pwd)
VENV=${DDB_LAKE_AF2_VENV:-$REPO_ROOT/.venv-af2}
# DDB_LAKE_AF2_SUITES="tests/dags tests/core" narrows the run (space-separated pytest paths; "none" runs no suite).
IFS=$' \n' read -r -d '' -a SUITES <<<"${DDB_LAKE_AF2_SUITES:-tests/test_compat.py tests/dags tests/test_provider_package.py
  tests/core tests/operators tests/aws_export tests/aws_catalog tests/bigquery tests/iceberg tests/integration}" || true
[ "${SUITES[*]}" != none ] || SUITES=()

log() { printf '[check_airflow2] %s\n' "$*" >&2; }

# run_on_stack demo|backfill WORK_DIR : the orders DAG end to end on a stack of its own, with `airflow dags test`
# (demo) or `airflow dags backfill` + `airflow triggerer` (backfill); returns the run's exit status.
run_on_stack() {
  local mode=$1 work=$2/$1 status
  local state="$work/stack"
  mkdir -p "$state"
  .venv/bin/python scripts/local_stack.py up --state-dir "$state" >/dev/null
  # A plain statement (not in an && list), so the subshell's set -e stops at the first failing step.
  set +e
  (
    set -e
    # shellcheck disable=SC1091
    source "$state/stack.env"
    export AIRFLOW_HOME="$work/airflow-home" AIRFLOW__CORE__DAGS_FOLDER="$REPO_ROOT/dags"
    export AIRFLOW__CORE__PLUGINS_FOLDER="$REPO_ROOT/plugins" AIRFLOW__CORE__LOAD_EXAMPLES=False
    export DDB_LAKE_TABLES_DIR="$REPO_ROOT/include/tables"
    "$VENV/bin/airflow" db migrate >"$work/db-migrate.log" 2>&1 || { tail -30 "$work/db-migrate.log"; exit 1; }
    "$VENV/bin/python" scripts/seed_demo.py include/tables/orders.yaml --items 3000
    dag_status=0
    if [ "$mode" = demo ]; then
      "$VENV/bin/airflow" dags test ddb_lake__orders "$(date -u +%Y-%m-%d)" >"$work/dags-test.log" 2>&1 \
        || dag_status=$?
    else
      # Two daily intervals with Airflow 2's backfill job: tasks run as `airflow tasks run` (SequentialExecutor), so
      # the deferred export and load wait for a real triggerer, which serializes and rebuilds their triggers.
      export PATH="$VENV/bin:$PATH"
      "$VENV/bin/airflow" triggerer >"$work/triggerer.log" 2>&1 &
      triggerer_pid=$!
      "$VENV/bin/airflow" dags backfill ddb_lake__orders --start-date "$(date -u -d '3 days ago' +%Y-%m-%d)" \
        --end-date "$(date -u -d '2 days ago' +%Y-%m-%d)" >"$work/dags-test.log" 2>&1 || dag_status=$?
      kill "$triggerer_pid" || true
      wait "$triggerer_pid" || true
      grep -q "trigger ddb_lake__orders/backfill__.*/export/.* completed" "$work/triggerer.log" \
        || { echo "the triggerer ran no export trigger (see $work/triggerer.log)"; dag_status=1; }
    fi
    "$VENV/bin/python" scripts/demo_summary.py --table-file include/tables/orders.yaml --dag-id ddb_lake__orders \
      --log "$work/dags-test.log" --elapsed 0
    exit "$dag_status"
  )
  status=$?
  set -e
  .venv/bin/python scripts/local_stack.py down --state-dir "$state" >/dev/null || true
  return "$status"
}

main() {
  local e2e=false venv_only=false arg work mode run_status status=0 dag_runs=()
  for arg in "$@"; do
    case $arg in
      --e2e) e2e=true ;;
      --demo) dag_runs+=(demo) ;;
      --backfill) dag_runs+=(backfill) ;;
      --venv) venv_only=true ;;
      *) log "unknown argument '$arg' (expected --e2e, --demo, --backfill, --venv)"; return 2 ;;
    esac
  done
  bash scripts/bootstrap.sh  # the stack's own venvs (moto server, emulators)
  DDB_LAKE_AF2_VENV="$VENV" bash scripts/bootstrap.sh airflow2
  $venv_only && return 0
  "$VENV/bin/python" -c 'import airflow, airflow.providers.amazon as a, airflow.providers.google as g
print(f"[check_airflow2] Airflow {airflow.__version__}, amazon {a.__version__}, google {g.__version__}")' >&2
  $e2e && SUITES+=(tests/e2e)
  work=$(mktemp -d /tmp/ddb-lake-af2.XXXXXX)
  if [ ${#SUITES[@]} -gt 0 ]; then
    log "pytest ${SUITES[*]} (Airflow home $work/pytest-airflow-home)"
    AIRFLOW_HOME="$work/pytest-airflow-home" "$VENV/bin/python" -m pytest -q -p no:cacheprovider "${SUITES[@]}" \
      || status=$?
  fi
  for mode in "${dag_runs[@]}"; do
    log "$mode: the orders DAG on its own stack (logs in $work/$mode)"
    set +e  # a plain statement: called in an || list, its subshell would ignore set -e
    run_on_stack "$mode" "$work"
    run_status=$?
    set -e
    [ "$run_status" -eq 0 ] || status=$run_status
  done
  [ "$status" -eq 0 ] && rm -rf "$work"
  return "$status"
}

main "$@"
