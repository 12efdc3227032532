"""Start bqemulator offline: skip its DuckDB ``spatial`` extension download, then run its CLI.

Run with the emulators' interpreter, never the Airflow one (the two venvs have clashing pins)::

    .venv-emulators/bin/python scripts/bqemulator_launcher.py start --rest-port 9050 --grpc-port 9060 \
        --project ddb-lake-local --ephemeral

bqemulator 1.4.0's engine runs ``INSTALL spatial; LOAD spatial`` at start and refuses to start when the extension
cannot be downloaded (no network here). The project stores no GEOGRAPHY column, so the launcher replaces that one step
with a step that only logs; every ``ST_*`` function then fails at query time with DuckDB's own "not in the catalog"
error. It also installs ``bqemulator_partitions`` (ingestion-time partitions and ``table$YYYYMMDD`` decorators in
load and copy jobs; see that module for what is real and what is not). Everything else (settings, ``BQEMU_*`` env
vars such as ``BQEMU_GCS_LOCAL_ROOT``) is bqemulator's own.
"""

from __future__ import annotations

import sys
from pathlib import Path


def _skip_spatial(engine: object) -> None:
    """Stand-in for ``DuckDBEngine._load_spatial``: GEOGRAPHY stays unsupported, the engine starts offline."""
    message = "bqemulator_launcher: DuckDB spatial extension not loaded (offline); GEOGRAPHY is unsupported"
    print(message, file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    from bqemulator.cli import main as bqemulator_cli
    from bqemulator.storage.engine import DuckDBEngine

    if not hasattr(DuckDBEngine, "_load_spatial"):
        raise RuntimeError(
            "bqemulator's DuckDBEngine has no _load_spatial step any more: check the launcher against the installed "
            "bqemulator version (pinned in requirements-emulators.txt)"
        )
    DuckDBEngine._load_spatial = _skip_spatial  # type: ignore[method-assign]
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bqemulator_partitions

    bqemulator_partitions.install()
    return bqemulator_cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="bqemulator")


if __name__ == "__main__":
    sys.exit(main())
