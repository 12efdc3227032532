"""The change files the stream handler (``include/cdc``) writes, and which of them a merge run takes.

Names: ``<prefix>/cdc/<table>/dt=<YYYY-MM-DD>/<YYYYMMDDTHHMMSSffffffZ>-<batch id>.json.gz``. Names sort by the time
the handler wrote them, so the merge lists from its position (the last name it merged) and takes names written
before ``now - settle``: the handler rewrites under a fresh name any object whose write took longer than its
``CDC_MAX_WRITE_SECONDS``, so with ``settle`` above that no object can appear below a name already merged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ddb_lake.core.lake.layout import join_key

NAME = re.compile(r"(?:^|/)dt=\d{4}-\d{2}-\d{2}/(\d{8}T\d{12})Z-[0-9a-f-]+\.json\.gz$")


def cdc_prefix(lake_prefix: str, table: str) -> str:
    """``<prefix>/cdc/<table>``: where the handler writes the table's change files (its ``CDC_PREFIX`` is
    ``<prefix>/cdc``)."""
    return join_key(lake_prefix, "cdc", table)


def written_at(key: str) -> datetime | None:
    """The write time in a change file's name, or None for a name that is not a change file."""
    match = NAME.search(key)
    if match is None:
        return None
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC)


@dataclass(frozen=True)
class FilePick:
    """The change files of one merge run (sorted), the position after them, and what was held back."""

    keys: tuple[str, ...]
    position: str
    held_back: int

    @property
    def empty(self) -> bool:
        return not self.keys


def pick_files(listed: Iterable[str], position: str, now: datetime, settle: timedelta) -> FilePick:
    """Change files named after ``position`` and written before ``now - settle``, in name order.

    Files written later are held back to the next run (a file written at the same moment might still be on its way).
    Names that are not change files are ignored.
    """
    cutoff = now - settle
    keys: list[str] = []
    waiting = sorted(k for k in listed if written_at(k) is not None and k > position)
    for number, key in enumerate(waiting):
        if written_at(key) > cutoff:  # names sort by write time: every later name is held back too
            return FilePick(tuple(keys), keys[-1] if keys else position, len(waiting) - number)
        keys.append(key)
    return FilePick(tuple(keys), keys[-1] if keys else position, 0)

def cleanable(listed: Iterable[str], position: str, now: datetime, grace: timedelta) -> list[str]:
    """Change files at or below ``position`` (merged) written more than ``grace`` ago: safe to delete."""
    out = []
    for key in sorted(listed):
        moment = written_at(key)
        if moment is not None and key <= position and moment < now - grace:
            out.append(key)
    return out
