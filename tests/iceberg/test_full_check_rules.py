"""Rules of the periodic full-export check (core/iceberg/full_check.py) and the window counter it reads."""

from __future__ import annotations

import pytest

from ddb_lake.core.errors import ValidationFailedError
from ddb_lake.core.iceberg.full_check import check_full_count, full_check_due
from ddb_lake.core.iceberg.watermark import WINDOWS, CommittedState, commit_properties

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/books/export/01764-full"


def test_every_nth_window_since_the_bootstrap_is_checked():
    assert [w + 1 for w in range(10) if full_check_due(w, 3)] == [3, 6, 9]
    assert [w + 1 for w in range(5) if full_check_due(w, 1)] == [1, 2, 3, 4, 5]
    assert not any(full_check_due(w, 0) for w in range(100))
    assert full_check_due(23, 24) and not full_check_due(24, 24) and full_check_due(47, 24)


def test_the_window_counter_is_committed_and_read_back():
    props = commit_properties(export_id="e", export_type="INCREMENTAL_EXPORT", watermark="2026-01-01T01:00:00+00:00",
                              window_start="2026-01-01T00:00:00+00:00", rows=5, key_checksum=9, rows_before=4,
                              inserts=1, updates=0, deletes=0, changes=1, windows=7)
    assert props[WINDOWS] == "7"
    assert CommittedState.from_summary(props).windows == 7
    older = {k: v for k, v in props.items() if k != WINDOWS}  # a snapshot committed before the counter existed
    assert CommittedState.from_summary(older).windows == 0


def test_equal_counts_match():
    assert check_full_count("lake_db.books", "e9", ARN, 80, 80) == (
        f"table lake_db.books after export e9: 80 rows; the full export {ARN} at the same time holds 80 items: match")


@pytest.mark.parametrize(("rows", "items", "delta"), [(81, 80, "+1 rows"), (79, 80, "-1 rows"), (0, 3, "-3 rows")])
def test_a_count_mismatch_fails_naming_table_exports_and_the_fix(rows, items, delta):
    with pytest.raises(ValidationFailedError) as err:
        check_full_count("lake_db.books", "e9", ARN, rows, items)
    text = str(err.value)
    assert f"MISMATCH ({delta})" in text and "lake_db.books" in text and ARN in text and "e9" in text
    assert "watermark did not move" in text and "re-bootstrap" in text
