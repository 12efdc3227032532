"""Validation arithmetic of a merge: the table after it must hold rows before + inserts - deletes, and its key
checksum must move by exactly the hashes of the inserted and deleted keys (``core.validation`` key hashes)."""

from __future__ import annotations

from dataclasses import dataclass

from ddb_lake.core.errors import ValidationFailedError


@dataclass(frozen=True)
class KeyTotals:
    """(rows, sum of key hashes) of a set of keys, as ``key_checksum_of_batches`` gives it."""

    rows: int
    checksum: int

    def plus(self, other: KeyTotals) -> KeyTotals:
        return KeyTotals(self.rows + other.rows, self.checksum + other.checksum)

    def minus(self, other: KeyTotals) -> KeyTotals:
        return KeyTotals(self.rows - other.rows, self.checksum - other.checksum)


def expected_after(before: KeyTotals, inserted: KeyTotals, deleted: KeyTotals) -> KeyTotals:
    """What the table must hold after a merge: updates change no key, inserts add theirs, deletes take theirs."""
    return before.plus(inserted).minus(deleted)


def check_merge(table: str, export_id: str, expected: KeyTotals, actual: KeyTotals) -> str:
    """The verdict line; raise :class:`ValidationFailedError` when the table does not hold what the changes say."""
    line = (f"table {table} after export {export_id}: {actual.rows} rows, key checksum {actual.checksum}; "
            f"the change arithmetic expects {expected.rows} rows, key checksum {expected.checksum}")
    if actual != expected:
        raise ValidationFailedError(
            f"{line}: MISMATCH ({actual.rows - expected.rows:+d} rows). The merge was rolled back and the watermark "
            "did not move. Retrying repeats the same merge; inspect the change set and the table's snapshots "
            "(a duplicate key, or a writer other than ddb-lake, makes the counts differ)")
    return f"{line}: match"
