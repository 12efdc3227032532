"""One convert task try, as a worker runs it: ``python -m convert_attempt_runner '<spec JSON>'``.

The spec names the export task's result, the run plan's ``attempts_url`` and ``snapshot``, the run id, the try
number and the converter options. The operator reaches moto through ``aws_default`` (the environment the test
stack set). Prints the summary's ``snapshot_prefix`` and ``items`` as JSON when the conversion finished; the kill
test SIGKILLs it at a random moment instead.
"""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace

from ddb_lake.operators.export_to_parquet import ExportToParquetOperator


def main(argv: list[str]) -> int:
    spec = json.loads(argv[1])
    operator = ExportToParquetOperator(task_id="convert", export=spec["export"], attempts_url=spec["attempts_url"],
                                       snapshot=spec["snapshot"], converter_options=spec["options"])
    summary = operator.execute({"run_id": spec["run_id"], "ti": SimpleNamespace(try_number=spec["try_number"])})
    print(json.dumps({"snapshot_prefix": summary["snapshot_prefix"], "items": summary["items"]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
