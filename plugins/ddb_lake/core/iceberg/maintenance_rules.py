"""Rules of the Iceberg table's maintenance: which files are orphans, when to compact, and which files to compact.

Orphans: files under the table's data folder that no snapshot in the table's metadata references (a crashed merge
wrote them, or a commit failed after writing). One is removed only when it is older than the grace period (a commit
still being written has files no snapshot references yet) and no snapshot still in the metadata names it (those are
expiry's to delete, after their own grace). Compaction: every ``every`` merges, the small data files (and those
carrying position deletes) are rewritten into few large ones; readers of older snapshots keep their files until
expiry.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


def orphan_files(listed: Iterable[tuple[str, datetime]], referenced: set[str], *, now: datetime,
                 grace: timedelta) -> list[str]:
    """``listed`` files ``(url, last modified)`` that no snapshot references and that are older than ``grace``."""
    return sorted(url for url, modified in listed if url not in referenced and modified < now - grace)


def compaction_due(merges_since: int, every: int) -> bool:
    """True once ``every`` merges were committed since the last compaction (``every`` 0: never)."""
    return every > 0 and merges_since >= every


@dataclass(frozen=True)
class DataFileInfo:
    """A data file of the current snapshot: its path, size and number of position delete files applying to it."""

    path: str
    size: int
    delete_files: int


MAX_COMPACTION_BYTES = 1 << 30  # one compaction reads at most this much (its files are held in memory at once)


def files_to_compact(files: Iterable[DataFileInfo], small_bytes: int,
                     max_bytes: int = MAX_COMPACTION_BYTES) -> list[str]:
    """Paths of the files to rewrite: those smaller than ``small_bytes`` or carrying deletes, when there are at least
    two of them or one carries deletes (rewriting one clean file alone gains nothing). Files carrying deletes first,
    then the smallest, up to ``max_bytes`` in all (at least one file); the rest wait for the next compaction."""
    candidates = sorted((f for f in files if f.size < small_bytes or f.delete_files),
                        key=lambda f: (not f.delete_files, f.size, f.path))
    chosen, total = [], 0
    for info in candidates:
        if chosen and total + info.size > max_bytes:
            break
        chosen.append(info)
        total += info.size
    if len(chosen) < 2 and not any(f.delete_files for f in chosen):
        return []
    return sorted(f.path for f in chosen)
