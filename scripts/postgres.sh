#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on 127.0.0.1 for Airflow's metadata DB (the scheduler tests, a local long-running Airflow).
#
#   bash scripts/postgres.sh start [STATE_DIR]    # initdb once, start, create database "airflow"; print its URL
#   bash scripts/postgres.sh url   [STATE_DIR]    # print the SQLAlchemy URL of a running cluster
#   bash scripts/postgres.sh stop  [STATE_DIR]    # stop it (a no-op when it is not running)
#   bash scripts/postgres.sh destroy [STATE_DIR]  # stop it and delete STATE_DIR
#
# STATE_DIR defaults to .stack/postgres. The cluster lives in STATE_DIR/data, listens only on 127.0.0.1 on a free port
# (kept in STATE_DIR/port, so a restart keeps the URL), with its socket in STATE_DIR and trust authentication for its
# one role "airflow" (a test cluster: nothing but loopback can reach it). start and stop are idempotent.
# initdb refuses to run as root: as root the cluster belongs to the "postgres" OS user (created with the Debian
# package) and every server command runs as that user. The server binaries come from PG_BINDIR, `pg_config --bindir`
# or /usr/lib/postgresql/<newest>/bin; when none is found and apt-get can run, `apt-get install -y postgresql` does it
# (CI: no services, apt-get allowed).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
COMMAND="${1:-}"
STATE_DIR="$(realpath -m "${2:-$ROOT/.stack/postgres}")"
DATA="$STATE_DIR/data"
ROLE=airflow
DATABASE=airflow

die() { echo "postgres.sh: $*" >&2; exit 1; }

find_bindir() {
  local dir
  for dir in "${PG_BINDIR:-}" "$(pg_config --bindir 2>/dev/null || true)" $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ]; then echo "$dir"; return 0; fi
  done
  return 1
}

install_server() {
  command -v apt-get >/dev/null || die "no PostgreSQL server binaries (initdb, postgres) and no apt-get: install PostgreSQL or set PG_BINDIR"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  echo "postgres.sh: no PostgreSQL server binaries found: apt-get install -y postgresql" >&2
  $sudo apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >&2 \
    || die "apt-get install postgresql failed: install the PostgreSQL server (initdb, postgres) or set PG_BINDIR"
}

# as_owner CMD...: run CMD as the cluster's owner (the current user, or "postgres" when running as root).
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

url() {
  echo "postgresql+psycopg2://$ROLE@127.0.0.1:$(cat "$STATE_DIR/port")/$DATABASE"
}

is_running() {
  [ -f "$DATA/postmaster.pid" ] && as_owner "$BINDIR/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

start() {
  mkdir -p "$STATE_DIR"
  if [ "$(id -u)" -eq 0 ]; then
    getent passwd postgres >/dev/null || die "running as root and there is no 'postgres' user to own the cluster (initdb refuses root): run as a normal user"
    chown postgres "$STATE_DIR"
    # the owner must reach STATE_DIR: every folder above it needs the x bit for others
    local dir="$STATE_DIR"
    while [ "$dir" != "/" ]; do
      dir="$(dirname "$dir")"
      [ -x "$dir" ] && runuser -u postgres -- test -x "$dir" \
        || die "the 'postgres' user cannot enter $dir: choose a STATE_DIR under a folder others may traverse"
    done
  fi
  if [ ! -f "$DATA/PG_VERSION" ]; then
    rm -rf "$DATA"
    as_owner "$BINDIR/initdb" -D "$DATA" -U "$ROLE" --auth=trust --encoding=UTF8 --locale=C.UTF-8 --no-sync \
      >"$STATE_DIR/initdb.log" 2>&1 || { cat "$STATE_DIR/initdb.log" >&2; die "initdb failed (log above)"; }
  fi
  if is_running; then
    url
    return 0
  fi
  [ -f "$STATE_DIR/port" ] || free_port >"$STATE_DIR/port"
  local port
  port="$(cat "$STATE_DIR/port")"
  # fsync off and small buffers: a throwaway test cluster on a shared 2-core machine
  as_owner "$BINDIR/pg_ctl" -D "$DATA" -l "$STATE_DIR/postgres.log" -w -t 60 start -o \
    "-c listen_addresses=127.0.0.1 -p $port -k $STATE_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c shared_buffers=64MB" \
    >/dev/null || { tail -20 "$STATE_DIR/postgres.log" >&2; die "the server did not start (log above)"; }
  if ! as_owner "$BINDIR/psql" -h 127.0.0.1 -p "$port" -U "$ROLE" -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'" | grep -q 1; then
    as_owner "$BINDIR/createdb" -h 127.0.0.1 -p "$port" -U "$ROLE" "$DATABASE"
  fi
  url
}

stop() {
  if [ -d "$DATA" ] && is_running; then
    as_owner "$BINDIR/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
  fi
}

case "$COMMAND" in
  start|url|stop|destroy) ;;
  *) die "usage: postgres.sh start|url|stop|destroy [STATE_DIR]" ;;
esac
BINDIR="$(find_bindir)" || { install_server; BINDIR="$(find_bindir)" || die "PostgreSQL server binaries still not found"; }

case "$COMMAND" in
  start) start ;;
  url) is_running || die "no cluster running in $STATE_DIR: bash scripts/postgres.sh start $STATE_DIR"; url ;;
  stop) stop ;;
  destroy) stop; rm -rf "$STATE_DIR" ;;
esac
