"""ION exports: DynamoDB can export in Amazon Ion text; reading them needs the ``amazon.ion`` package."""

from __future__ import annotations

from ddb_lake.core.errors import UnsupportedFormatError


def require_ion_reader(export_id: str) -> None:
    """Fail clearly: ION exports are not converted by this release (export DYNAMODB_JSON instead)."""
    raise UnsupportedFormatError(
        "ION exports are not supported: request the export with ExportFormat=DYNAMODB_JSON "
        "(the ION reader on PyPI, amazon.ion, is not wired into this converter yet)",
        export_id=export_id, file="manifest-summary.json")
