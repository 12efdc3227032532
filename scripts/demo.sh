#!/usr/bin/env bash
# The main job: bring the local stack up, seed a demo DynamoDB table, run the demo DAG end to end with
# `airflow dags test` (deferrable tasks included), print the validation and run reports, stop the stack.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
TABLE_FILE="${DDB_LAKE_DEMO_TABLE:-include/tables/orders.yaml}"
case "$TABLE_FILE" in */*|*.yaml|*.yml) ;; *) TABLE_FILE="include/tables/$TABLE_FILE.yaml" ;; esac  # a name: books
ITEMS="${DDB_LAKE_DEMO_ITEMS:-3000}"
RUN_DATE="${DDB_LAKE_DEMO_DATE:-$(date -u +%Y-%m-%d)}"
STATE_DIR="$ROOT/.stack/demo"

bash scripts/bootstrap.sh
started=$(date +%s)

rm -rf "$STATE_DIR"
mkdir -p "$STATE_DIR"
stop_stack() { .venv/bin/python scripts/local_stack.py down --state-dir "$STATE_DIR" || true; }
trap stop_stack EXIT

echo "== starting the local stack (moto server, GCS emulator, BigQuery emulator) on 127.0.0.1"
.venv/bin/python scripts/local_stack.py up --state-dir "$STATE_DIR" >/dev/null
# shellcheck disable=SC1091
source "$STATE_DIR/stack.env"

export AIRFLOW_HOME="$STATE_DIR/airflow-home"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$ROOT/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__LOGGING__LOGGING_LEVEL=INFO
# docs/deploy.md: botocore's service data parsed once per process, not once per hook
export AIRFLOW__AWS__SESSION_FACTORY=ddb_lake.aws_session.SharedDataSessionFactory
mkdir -p "$AIRFLOW_HOME" "$STATE_DIR/tables"
# The demo's copy of the table file, set for the stand-ins: moto's PITR window starts when the table is seeded (after
# the run's export time) and its exports finish at once, so check_recovery_window false and poll_seconds 2.
TABLE_FILE="$(.venv/bin/python scripts/seed_demo.py "$TABLE_FILE" --demo-copy "$STATE_DIR/tables")"
export DDB_LAKE_TABLES_DIR="$STATE_DIR/tables"

echo "== airflow db migrate"
.venv/bin/airflow db migrate >"$STATE_DIR/db-migrate.log" 2>&1 || { tail -50 "$STATE_DIR/db-migrate.log"; exit 1; }

echo "== seeding the demo table ($ITEMS items) and buckets"
.venv/bin/python scripts/seed_demo.py "$TABLE_FILE" --items "$ITEMS"

DAG_ID="$(.venv/bin/python -c "import sys; sys.path.insert(0, 'plugins');
from ddb_lake.core.config.table_config import load_table_config; from ddb_lake.dag_factory.table_dag import dag_id_for
config = load_table_config('$TABLE_FILE')  # an incremental table (lake.format iceberg): its first run bootstraps
print(dag_id_for(config, 'incremental' if config.export.mode == 'incremental' else 'full'))")"

echo "== airflow dags test $DAG_ID $RUN_DATE"
set +e
.venv/bin/airflow dags test "$DAG_ID" "$RUN_DATE" >"$STATE_DIR/dags-test.log" 2>&1
status=$?
set -e
.venv/bin/python scripts/demo_summary.py --table-file "$TABLE_FILE" --dag-id "$DAG_ID" --log "$STATE_DIR/dags-test.log" \
  --elapsed "$(( $(date +%s) - started ))"
exit "$status"
