"""The periodic proof of the Iceberg table against a full export (docs/iceberg.md, "Full-export check").

Every ``every`` merged windows, the run that merges the window ending at T also takes a native full export at
exactly T; after the merge, the committed snapshot's row count must equal that export's item count (DescribeExport's
``ItemCount``, the manifest's exact count). The change arithmetic checks each merge against the table before it; this
check is independent of the chain, so drift the arithmetic cannot see (a lost window, a writer other than ddb-lake)
is found within ``every`` runs.

When a check is due is computed from the table: every window merge commits ``ddb-lake.windows`` (windows merged
since the bootstrap, which commits 0) in its snapshot summary; the window that makes it a multiple of ``every`` is
checked. A failed check rolls the merge back, so its retry is due again.
"""

from __future__ import annotations

from ddb_lake.core.errors import ValidationFailedError


def full_check_due(windows_before: int, every: int) -> bool:
    """True when the window merged on top of ``windows_before`` merged windows is to be checked (``every`` 0: never)."""
    return every > 0 and (windows_before + 1) % every == 0


def check_full_count(table: str, export_id: str, full_export_arn: str, table_rows: int, export_items: int) -> str:
    """The verdict line; raise :class:`ValidationFailedError` when the table's rows differ from the full export's."""
    line = (f"table {table} after export {export_id}: {table_rows} rows; the full export {full_export_arn} at the "
            f"same time holds {export_items} items")
    if table_rows != export_items:
        raise ValidationFailedError(
            f"{line}: MISMATCH ({table_rows - export_items:+d} rows). The merge was rolled back and the watermark "
            "did not move. The table drifted from DynamoDB (a lost or doubled window, or a writer other than "
            "ddb-lake): re-bootstrap it (drop the Iceberg table, or its snapshots, so the next run takes a full "
            "export), then find the cause in the table's snapshot summaries")
    return f"{line}: match"
