#!/usr/bin/env bash
# Create (or confirm) the project's two virtualenvs from their lock files. Idempotent; needs only python3.11 + pip.
#
#   .venv/            Airflow 3.3 + providers + test tools, from requirements-lock.txt, then this repo editable;
#                     and Debian's chromium (apt-get, when missing) for the scheduler tests' browser check.
#   .venv-emulators/  bqemulator + gcp-storage-emulator, from requirements-emulators-lock.txt. A separate venv because
#                     their pins (protobuf, fastapi) clash with Airflow's.
#   .venv-spark/      pyspark for the Spark engine's local-mode test (tests/spark), from requirements-spark-lock.txt
#                     (the job's own environment: no Airflow; pandas 2 where Airflow has 3). Needs Java 17 to run.
#
# Each venv keeps a stamp (sha256 of the files it was built from); a venv whose stamp matches is left alone.
#   bash scripts/bootstrap.sh              # main, emulators and spark
#   bash scripts/bootstrap.sh emulators    # only one of them (main | emulators | spark)
#   bash scripts/bootstrap.sh airflow2     # .venv-af2/: Airflow 2.11 for scripts/check_airflow2.sh (not built by default)
# Installs go through uv (pinned below, put in .venv-tools/ by pip: about 1 minute for the main venv from an empty
# cache, against 10-18 with pip); where uv cannot be installed or fails, pip does the same install from the same lock.
# Environment: PYTHON (interpreter, default python3.11), DDB_LAKE_VENV, DDB_LAKE_EMULATOR_VENV, DDB_LAKE_AF2_VENV,
# DDB_LAKE_INSTALLER=pip to skip uv.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO_ROOT=$(pwd)

VENV=${DDB_LAKE_VENV:-$REPO_ROOT/.venv}
EMULATOR_VENV=${DDB_LAKE_EMULATOR_VENV:-$REPO_ROOT/.venv-emulators}
AF2_VENV=${DDB_LAKE_AF2_VENV:-$REPO_ROOT/.venv-af2}
SPARK_VENV=${DDB_LAKE_SPARK_VENV:-$REPO_ROOT/.venv-spark}
TOOLS_VENV=$REPO_ROOT/.venv-tools
UV_VERSION=0.13.9
UV=""
STAMP_NAME=.ddb-lake-bootstrap-stamp

log() { printf '[bootstrap] %s\n' "$*" >&2; }

find_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3.11 python3; do
    [ -n "$candidate" ] || continue
    command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  log "no Python 3.11 found (tried \$PYTHON, python3.11, python3); install python3.11 and rerun"
  return 1
}

# stamp_of FILE... : one hash over the named files and the interpreter version.
stamp_of() {
  { "$PY" -c 'import sys; print(sys.version)'; cat "$@"; } | sha256sum | cut -d' ' -f1
}

# find_uv : set UV to a pinned uv in .venv-tools/ (installed there by pip on first use); leave it empty when that fails.
find_uv() {
  [ "${DDB_LAKE_INSTALLER:-uv}" = pip ] && return 0
  local found
  found=$("$TOOLS_VENV/bin/uv" --version 2>/dev/null) || found=""
  # `uv --version` prints "uv 0.13.9 (<platform>)": compare the version word only.
  if [ "$(printf '%s' "$found" | cut -d' ' -f2)" != "$UV_VERSION" ]; then
    "$PY" -m venv "$TOOLS_VENV" && "$TOOLS_VENV/bin/python" -m pip install -q --disable-pip-version-check \
      "uv==$UV_VERSION" >"$TOOLS_VENV.log" 2>&1 \
      || { log "uv $UV_VERSION did not install (see $TOOLS_VENV.log); installing with pip instead"; return 0; }
  fi
  UV=$TOOLS_VENV/bin/uv
}

# install_quietly VENV ARGS... : install into VENV with uv (bytecode compiled, as pip does), else with its pip.
install_quietly() {
  local venv=$1
  shift
  if [ -n "$UV" ]; then
    if "$UV" pip install --quiet --compile-bytecode --python "$venv/bin/python" "$@" >>"$venv/bootstrap-pip.log" 2>&1; then
      return 0
    fi
    log "uv pip install $* failed (last lines below); trying pip"
    tail -n 8 "$venv/bootstrap-pip.log" >&2
  fi
  pip_quietly "$venv" "$@"
}

# pip_quietly VENV ARGS... : run the venv's pip with its output in VENV/bootstrap-pip.log; show the tail on failure.
pip_quietly() {
  local venv=$1
  shift
  if ! "$venv/bin/python" -m pip install --disable-pip-version-check "$@" >>"$venv/bootstrap-pip.log" 2>&1; then
    log "pip install $* failed; last lines of $venv/bootstrap-pip.log:"
    grep -v "is ignored: it is neither a file nor a directory" "$venv/bootstrap-pip.log" | tail -n 15 >&2
    return 1
  fi
}

# ensure_venv LABEL VENV LOCK FALLBACK STAMP_INPUTS... : build VENV from LOCK (or FALLBACK) unless its stamp is current.
ensure_venv() {
  local label=$1 venv=$2 lock=$3 fallback=$4
  shift 4
  local stamp started
  stamp=$(stamp_of "$@")
  if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/$STAMP_NAME" 2>/dev/null)" = "$stamp" ]; then
    log "$label: $venv is current (stamp ${stamp:0:12}); nothing to do"
    return 0
  fi
  started=$(date +%s)
  if [ ! -x "$venv/bin/python" ]; then
    log "$label: creating $venv with $PY"
    "$PY" -m venv "$venv"
  else
    log "$label: $venv exists but its stamp differs from ${stamp:0:12}; syncing it"
  fi
  rm -f "$venv/$STAMP_NAME"
  : >"$venv/bootstrap-pip.log"
  log "$label: ${UV:+uv }pip install -r $lock"
  if ! install_quietly "$venv" -r "$lock"; then
    log "$label: the lock did not install; falling back to the looser $fallback"
    install_quietly "$venv" -r "$fallback"
  fi
  if [ "$label" = main ] || [ "$label" = airflow2 ]; then
    log "$label: install --no-deps -e . (the ddb_lake provider, editable)"
    install_quietly "$venv" --no-deps -e "$REPO_ROOT"
  fi
  verify_"$label" "$venv"
  echo "$stamp" >"$venv/$STAMP_NAME"
  log "$label: $venv ready in $(($(date +%s) - started)) s ($(du -sh "$venv" | cut -f1))"
}

# ensure_native VENV : the native DynamoDB-JSON parser (plugins/ddb_lake/core/convert/_ddb_json.c) built in place by
# the editable install; built again when missing or older than its source. Without a C compiler the converter still
# works (pyarrow parses every chunk, slower); the suite then fails tests/core/test_fast_json.py on purpose.
ensure_native() {
  local venv=$1 source=plugins/ddb_lake/core/convert/_ddb_json.c built
  built=$(ls "$REPO_ROOT"/plugins/ddb_lake/core/convert/_ddb_json*.so 2>/dev/null | head -n 1 || true)
  [ -n "$built" ] && [ "$built" -nt "$REPO_ROOT/$source" ] && return 0
  log "native JSON parser: building $source (install --no-deps -e .)"
  install_quietly "$venv" --no-deps -e "$REPO_ROOT" \
    || log "native JSON parser: not built (see $venv/bootstrap-pip.log); the converter falls back to pyarrow's reader"
}

verify_main() {
  "$1/bin/python" -c 'import airflow, airflow.providers.amazon, airflow.providers.google, ddb_lake, moto, pyarrow' \
    || { log "main: $1 is missing a core import"; return 1; }
}

verify_airflow2() {
  "$1/bin/python" -c 'import airflow, sys; sys.exit(not airflow.__version__.startswith("2."))' \
    || { log "airflow2: $1 does not hold Airflow 2"; return 1; }
  "$1/bin/python" -c 'import airflow.providers.amazon, airflow.providers.google, ddb_lake.compat, moto, pyarrow' \
    || { log "airflow2: $1 is missing a core import"; return 1; }
}

verify_spark() {
  "$1/bin/python" -c 'import pyspark, pyarrow' || { log "spark: $1 is missing pyspark or pyarrow"; return 1; }
  command -v java >/dev/null 2>&1 || log "spark: no java on PATH: the Spark test needs Java 17 (apt-get install openjdk-17-jre-headless)"
}

verify_emulators() {
  "$1/bin/python" -c 'import bqemulator, gcp_storage_emulator, numpy' \
    || { log "emulators: $1 is missing an emulator import"; return 1; }
}

# ensure_chromium : Debian's chromium for the browser check of tests/scheduler/ (Playwright drives it; no Playwright
# browser download). Installed with apt-get as root or through `sudo -n`, as scripts/postgres.sh installs PostgreSQL;
# where that cannot run, says so and goes on (that test then fails saying Chromium is missing).
ensure_chromium() {
  local chromium=${DDB_LAKE_CHROMIUM:-/usr/bin/chromium}
  if [ -x "$chromium" ] || command -v chromium >/dev/null 2>&1; then
    return 0
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  if ! command -v apt-get >/dev/null 2>&1; then
    log "no chromium and no apt-get: install Chromium (or set DDB_LAKE_CHROMIUM) for tests/scheduler's browser check"
    return 0
  fi
  log "chromium: apt-get install -y chromium (the scheduler tests' browser check)"
  mkdir -p "$REPO_ROOT/.stack"
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium; } \
    >"$REPO_ROOT/.stack/apt-chromium.log" 2>&1; then
    log "apt-get install chromium failed (see .stack/apt-chromium.log): tests/scheduler's browser check will fail"
  fi
}

main() {
  local started lock_fd target
  started=$(date +%s)
  PY=$(find_python)
  if command -v flock >/dev/null 2>&1; then
    # Two bootstraps of the same checkout at once would race on pip: the second waits for the first.
    mkdir -p "$REPO_ROOT/.stack"
    exec {lock_fd}>"$REPO_ROOT/.stack/bootstrap.lock"
    flock "$lock_fd"
  fi
  find_uv
  local targets=("$@")
  [ ${#targets[@]} -gt 0 ] || targets=(main emulators spark)
  for target in "${targets[@]}"; do
    case $target in
      main)
        ensure_venv main "$VENV" requirements-lock.txt requirements-dev.txt requirements-lock.txt pyproject.toml setup.py
        ensure_native "$VENV"
        ensure_chromium ;;
      emulators)
        ensure_venv emulators "$EMULATOR_VENV" requirements-emulators-lock.txt requirements-emulators.txt \
          requirements-emulators-lock.txt ;;
      spark)
        ensure_venv spark "$SPARK_VENV" requirements-spark-lock.txt requirements-spark.txt requirements-spark-lock.txt ;;
      airflow2)
        ensure_venv airflow2 "$AF2_VENV" requirements-airflow2-lock.txt requirements-airflow2.txt \
          requirements-airflow2-lock.txt requirements-airflow2.txt pyproject.toml ;;
      *) log "unknown target '$target' (expected: main, emulators, spark, airflow2)"; return 2 ;;
    esac
  done
  log "done in $(($(date +%s) - started)) s"
}

main "$@"
