"""A reduced set of change lines converted by the project's converter, as an incremental export would be.

The winners are written as a local incremental export (AWS's layout: manifests, ``data/*.json.gz``) and
``convert_export`` turns it into Parquet in the table's schema: numbers exact, binary decoded, maps as structs,
mixed types as JSON — the same rules and the same schema evolution as every other path into the table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ddb_lake.core.cdc.reduction import Reduced
from ddb_lake.core.convert.converter import convert_export
from ddb_lake.core.convert.export_writer import write_export
from ddb_lake.core.schema.lake_schema import LakeSchema


def convert_reduced(reduced: Reduced, work: Path, export_id: str, *, previous_schema: LakeSchema | None,
                    numbers: str = "exact") -> dict[str, Any]:
    """Convert the winning lines under ``work``; the converter's summary (``files``: local Parquet paths)."""
    lines = (json.dumps(line, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"
             for line in reduced.lines)
    folder = write_export(work / "export" / "AWSDynamoDB" / export_id, [lines], export_type="INCREMENTAL_EXPORT",
                          output_view="NEW_IMAGE")
    return convert_export(str(folder), str(work / "converted"), numbers=numbers, previous_schema=previous_schema,
                          workers=1)
