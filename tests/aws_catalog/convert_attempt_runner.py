"""One convert task try, as a worker runs it: a process forked from a parent that imported the operator already.

``start_try(spec)`` starts the try in a child of a multiprocessing fork server that imported this module (and with
it Airflow and the provider) once, as a LocalExecutor worker forks task processes from a parent that has the DAG's
imports; each child is its own session (the kill test SIGKILLs its group) and ends with status 0 once the
conversion finished.

The spec names the export task's result, the run plan's ``attempts_url`` and ``snapshot``, the run id, the try
number and the converter options. The operator reaches moto through ``aws_default`` (the environment the test
stack set).
"""

from __future__ import annotations

import multiprocessing
import os
from types import SimpleNamespace

from ddb_lake.operators.export_to_parquet import ExportToParquetOperator

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload([__name__])


def _child(spec: dict) -> None:
    os.setsid()
    operator = ExportToParquetOperator(task_id="convert", export=spec["export"], attempts_url=spec["attempts_url"],
                                       snapshot=spec["snapshot"], converter_options=spec["options"])
    operator.execute({"run_id": spec["run_id"], "ti": SimpleNamespace(try_number=spec["try_number"])})


def start_try(spec: dict) -> multiprocessing.process.BaseProcess:
    """The try, running in a forked child (its own session; ``pid`` is its process group)."""
    process = _CONTEXT.Process(target=_child, args=(spec,), daemon=True)
    process.start()
    return process
