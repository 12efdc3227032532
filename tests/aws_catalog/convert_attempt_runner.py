"""One convert task try, as a worker runs it: a process forked from a parent that imported the operator already.

``start_try(spec)`` starts the try in a child of a multiprocessing fork server that imported this module (and with
it Airflow and the provider) once, as a LocalExecutor worker forks task processes from a parent that has the DAG's
imports; each child is its own session (the kill test SIGKILLs its group) and ends with status 0 once the
conversion finished. ``python -m convert_attempt_runner '<spec JSON>'`` runs one try in this process instead.

The spec names the export task's result, the run plan's ``attempts_url`` and ``snapshot``, the run id, the try
number and the converter options. The operator reaches moto through ``aws_default`` (the environment the test
stack set).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from types import SimpleNamespace

from ddb_lake.operators.export_to_parquet import ExportToParquetOperator

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload([__name__])


def run_try(spec: dict) -> dict:
    operator = ExportToParquetOperator(task_id="convert", export=spec["export"], attempts_url=spec["attempts_url"],
                                       snapshot=spec["snapshot"], converter_options=spec["options"])
    summary = operator.execute({"run_id": spec["run_id"], "ti": SimpleNamespace(try_number=spec["try_number"])})
    return {"snapshot_prefix": summary["snapshot_prefix"], "items": summary["items"]}


def _child(spec: dict) -> None:
    os.setsid()
    run_try(spec)


def start_try(spec: dict) -> multiprocessing.process.BaseProcess:
    """The try, running in a forked child (its own session; ``pid`` is its process group)."""
    process = _CONTEXT.Process(target=_child, args=(spec,), daemon=True)
    process.start()
    return process


def main(argv: list[str]) -> int:
    print(json.dumps(run_try(json.loads(argv[1]))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
