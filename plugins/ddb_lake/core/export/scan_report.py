"""What a scan export tells the run report: how it read, what it spent, and that it is not a point-in-time snapshot.

Pure: the scan operator puts :func:`scan_summary` in its result (``scan``); the run report renders it with
:func:`render_scan` and prices its read units (``core.validation.run_report``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ddb_lake.core.export.scan_layout import NOT_POINT_IN_TIME
from ddb_lake.core.export.scan_rate import ReadBudget
from ddb_lake.core.export.scan_settings import ScanSettings


def scan_summary(totals: dict[str, Any], budget: ReadBudget, scan: ScanSettings) -> dict[str, Any]:
    """The ``scan`` entry of the export result: totals, the budget, the rate reached, start and end, the caveat."""
    seconds = _seconds_between(totals["started_at"], totals["finished_at"])
    return {
        **totals,
        "segments": scan.segments,
        "consistent_read": scan.consistent_read,
        "filtered": bool(scan.filter_expression),
        "projected": bool(scan.projection_expression),
        "budget_units_per_second": budget.units_per_second,
        "budget_basis": budget.basis,
        "on_demand": budget.on_demand,
        "seconds": seconds,
        "units_per_second": round(totals["read_units"] / seconds, 3) if seconds > 0 else None,
        "point_in_time": False,
        "note": NOT_POINT_IN_TIME,
    }


def _seconds_between(start: str, end: str) -> float:
    if not start or not end:
        return 0.0
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 3)


def render_scan(scan: dict[str, Any] | None) -> str:
    """The report's lines about a scan export; empty when the export was not a scan."""
    if not scan:
        return ""
    rate = scan.get("units_per_second")
    filtered = f", {scan['items']:,} kept by the filter" if scan.get("filtered") else ""
    return "\n".join([
        f"  scan: NOT point-in-time ({scan['note']}); started {scan['started_at']}, ended {scan['finished_at']}",
        f"  scan: {scan['segments']} segments, {scan['scanned']:,} items read in {scan['pages']:,} pages{filtered}, "
        f"{scan['read_units']:,.1f} read units ({'n/a' if rate is None else f'{rate:,.2f}'} units/s; budget "
        f"{scan['budget_units_per_second']:g} units/s: {scan['budget_basis']}), "
        f"{'strongly consistent' if scan.get('consistent_read') else 'eventually consistent'} reads",
    ])
