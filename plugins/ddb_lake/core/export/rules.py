"""What a run exports: export types, the window DynamoDB accepts for an interval, and the deterministic ClientToken.

Pure: the DAG's run plan and the export operator both decide here, so an interval maps to one export everywhere.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from ddb_lake.core.errors import ConfigError

FULL_EXPORT = "FULL_EXPORT"
INCREMENTAL_EXPORT = "INCREMENTAL_EXPORT"
EXPORT_VIEW_TYPES = ("NEW_AND_OLD_IMAGES", "NEW_IMAGE")
MIN_INCREMENTAL_WINDOW = timedelta(minutes=15)
MAX_INCREMENTAL_WINDOW = timedelta(hours=24)


def normalize_export_type(export_type: str) -> str:
    """``full``/``FULL_EXPORT`` -> FULL_EXPORT, ``incremental``/``INCREMENTAL_EXPORT`` -> INCREMENTAL_EXPORT."""
    kind = export_type.strip().upper()
    if kind in ("FULL", FULL_EXPORT):
        return FULL_EXPORT
    if kind in ("INCREMENTAL", INCREMENTAL_EXPORT):
        return INCREMENTAL_EXPORT
    raise ConfigError(f"export_type {export_type!r}: use FULL_EXPORT or INCREMENTAL_EXPORT")


def as_utc(moment: datetime) -> datetime:
    """Aware UTC datetime (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def to_datetime(value: datetime | str) -> datetime:
    """Plain aware UTC datetime from a (pendulum) datetime or an ISO-8601 string (what a rendered template gives)."""
    moment = as_utc(value if isinstance(value, datetime) else datetime.fromisoformat(str(value).strip()))
    return datetime.fromisoformat(moment.isoformat())  # pendulum -> stdlib, so differences are plain timedeltas


def export_window(
    table_name: str, export_type: str, start: datetime | str | None, end: datetime | str | None
) -> tuple[datetime | None, datetime]:
    """(window start, or None for a full export; export time) for the interval [start, end).

    A full export is a snapshot at ``end``; an incremental one covers [start, end), 15 minutes to 24 hours long
    (DynamoDB's limits: ``ExportFromTime`` inclusive, ``ExportToTime`` exclusive).
    """
    if end in (None, ""):
        raise ConfigError(f"Export of table {table_name}: no export_time and no data interval end")
    export_time = to_datetime(end)
    if normalize_export_type(export_type) == FULL_EXPORT:
        return None, export_time
    if start in (None, ""):
        raise ConfigError(f"Incremental export of table {table_name}: no window_start and no data interval start")
    window_start = to_datetime(start)
    length = export_time - window_start
    if not MIN_INCREMENTAL_WINDOW <= length <= MAX_INCREMENTAL_WINDOW:
        raise ConfigError(
            f"Incremental export of table {table_name}: window [{window_start.isoformat()}, "
            f"{export_time.isoformat()}) is {length}, but DynamoDB accepts 15 minutes to 24 hours. "
            "Schedule the DAG at an interval in that range or use export_type=FULL_EXPORT."
        )
    return window_start, export_time


def client_token(*parts: Any) -> str:
    """Deterministic ExportTableToPointInTime ClientToken from the parts that identify one export."""
    return "ddb-lake-" + hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:40]
