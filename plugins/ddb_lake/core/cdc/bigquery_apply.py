"""What a CDC run must apply to BigQuery to bring it level with the Iceberg table (docs/cdc.md, "BigQuery").

BigQuery keeps its own position: the Iceberg snapshot (and change-file position) it last applied, written in the
same BigQuery transaction as the rows. Each run compares it with the Iceberg table's ancestry:

- the same snapshot: nothing to do (a retried apply, or a run that merged nothing);
- only CDC merges since (each commit carries ``ddb-lake.cdc-position``): apply the change files between the two
  positions, reduced to the last change per key — one staged MERGE, however many micro-batches BigQuery missed;
- anything else since (the bootstrap, a healed gap's export, a commit of another writer), no state in BigQuery, or a
  snapshot no longer in the ancestry (expired): **reload** the table from the current Iceberg snapshot.

Pure: imports no Airflow, no pyiceberg.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ddb_lake.core.cdc.change_files import written_at

CHANGES = "changes"
RELOAD = "reload"
NOTHING = "nothing"
NO_DATA_CHANGE = ("replace",)
"""Iceberg snapshot operations that rewrite files without changing rows (compaction): not a reason to reload."""


@dataclass(frozen=True)
class Commit:
    """One Iceberg snapshot as the apply sees it: its id, operation, and CDC position and file count (None, 0 for
    a commit that did not merge change files)."""

    snapshot_id: int
    operation: str = "overwrite"
    position: str | None = None
    files: int = 0


@dataclass(frozen=True)
class ApplyPlan:
    action: str  # CHANGES, RELOAD or NOTHING
    reason: str
    from_position: str = ""  # CHANGES: change files after this one...
    to_position: str = ""  # ... up to and including this one
    files: int = 0  # CHANGES: how many change files the commits merged between the two positions


def plan_apply(table: str, commits: Iterable[Commit], applied_snapshot: int | None,
               applied_position: str = "") -> ApplyPlan:
    """The apply BigQuery needs. ``commits``: the current snapshot and its ancestors, newest first."""
    if applied_snapshot is None:
        return ApplyPlan(RELOAD, f"BigQuery holds no applied state for {table}: load the whole current table")
    between: list[Commit] = []
    for commit in commits:
        if commit.snapshot_id == applied_snapshot:
            break
        between.append(commit)
    else:
        return ApplyPlan(RELOAD, f"BigQuery's applied snapshot {applied_snapshot} is not an ancestor of {table}'s "
                         "current snapshot (expired, or the table was rebuilt): reload the whole current table")
    if not between:
        return ApplyPlan(NOTHING, f"BigQuery already holds {table}'s snapshot {applied_snapshot}")
    other = [c for c in between if c.position is None and c.operation not in NO_DATA_CHANGE]
    if other:
        return ApplyPlan(RELOAD, f"{len(other)} commit(s) of {table} since BigQuery's snapshot {applied_snapshot} "
                         f"did not come from change files (a bootstrap or a healed gap, e.g. snapshot "
                         f"{other[-1].snapshot_id}): reload the whole current table")
    to_position = next(c.position for c in between if c.position is not None)
    files = sum(c.files for c in between if c.position is not None)
    return ApplyPlan(CHANGES, f"{len(between)} CDC merge(s) of {table} since BigQuery's snapshot {applied_snapshot}: "
                     f"{files} change file(s) after {applied_position or 'the start'} up to {to_position}",
                     applied_position, to_position, files)


def files_between(listed: Iterable[str], after: str, upto: str) -> list[str]:
    """The change files named after ``after`` and up to ``upto`` (both merged positions), in name order."""
    return sorted(k for k in listed if after < k <= upto and written_at(k) is not None)
