"""A table's point-in-time-recovery window, and whether a requested export time falls inside it.

Pure: the hook reads ``DescribeContinuousBackups``; :func:`recovery_window_of` parses its answer and
:func:`check_recovery_window` says, before any export is started, why DynamoDB would refuse the times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ddb_lake.core.errors import ConfigError, TerminalError, TransientError
from ddb_lake.core.export.rules import as_utc


class OutsideRecoveryWindowError(TerminalError):
    """The requested time is older than the table's recovery window: no retry can export it any more."""


class RecoveryWindowNotReachedError(TransientError):
    """The requested time is newer than the recovery window, which trails the clock by minutes: retry later."""


@dataclass(frozen=True)
class RecoveryWindow:
    """A table's point-in-time-recovery state: enabled or not, and the restorable time range."""

    enabled: bool
    earliest: datetime | None
    latest: datetime | None


def recovery_window_of(backups: dict[str, Any]) -> RecoveryWindow:
    """The window in a ``DescribeContinuousBackups`` answer's ``ContinuousBackupsDescription``."""
    pitr = backups.get("PointInTimeRecoveryDescription", {})
    earliest = pitr.get("EarliestRestorableDateTime")
    latest = pitr.get("LatestRestorableDateTime")
    return RecoveryWindow(
        enabled=pitr.get("PointInTimeRecoveryStatus") == "ENABLED",
        earliest=as_utc(earliest) if earliest else None,
        latest=as_utc(latest) if latest else None,
    )


def check_recovery_window(
    table_name: str, recovery: RecoveryWindow, first: datetime, last: datetime, *, check_times: bool = True
) -> None:
    """Raise when PITR is off, or (``check_times``) when [first, last] is not inside the recovery window.

    PITR off and a time older than the window are terminal; a time newer than the window is transient (the window
    catches up within minutes).
    """
    if not recovery.enabled:
        raise ConfigError(
            f"DynamoDB table {table_name} has point-in-time recovery disabled, so it cannot be exported. "
            f"Enable it (aws dynamodb update-continuous-backups --table-name {table_name} "
            "--point-in-time-recovery-specification PointInTimeRecoveryEnabled=true); only times after that "
            "can be exported."
        )
    if not check_times:
        return
    if recovery.earliest and first < recovery.earliest:
        raise OutsideRecoveryWindowError(
            f"Export of table {table_name} at {first.isoformat()} is before its EarliestRestorableDateTime "
            f"{recovery.earliest.isoformat()}: this interval is older than the point-in-time recovery window, so "
            "it can no longer be exported (a backfill can only reach back as far as the recovery period)."
        )
    if recovery.latest and last > recovery.latest:
        raise RecoveryWindowNotReachedError(
            f"Export of table {table_name} at {last.isoformat()} is after its LatestRestorableDateTime "
            f"{recovery.latest.isoformat()}: the recovery window has not reached that time yet (it trails the "
            "clock by about 5 minutes). A retry a few minutes later will succeed."
        )
