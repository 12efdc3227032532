"""The merge side's pure rules (ddb_lake.core.cdc) with exact values: which files a run takes, the reduction to the
last change per key by sequence number, and the gap-healing window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ddb_lake.core.cdc.change_files import cdc_prefix, cleanable, pick_files, written_at
from ddb_lake.core.cdc.gap import heal_window
from ddb_lake.core.cdc.reduction import parse_line, reduce_lines
from ddb_lake.core.errors import ExportFormatError

T = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def name(moment: datetime, batch: str = "abc") -> str:
    return f"lake/cdc/books/dt={moment:%Y-%m-%d}/{moment:%Y%m%dT%H%M%S%f}Z-{batch}.json.gz"


def test_file_names_carry_their_write_time():
    assert cdc_prefix("lake", "books") == "lake/cdc/books"
    assert written_at(name(T + timedelta(microseconds=7))) == T + timedelta(microseconds=7)
    assert written_at("lake/cdc/books/dt=2026-12-01/_manifest.json") is None


def test_a_run_takes_files_after_its_position_written_before_now_minus_settle():
    files = [name(T + timedelta(seconds=s)) for s in (0, 10, 20, 50, 70)]
    pick = pick_files([*files, "lake/cdc/books/README"], files[0], T + timedelta(seconds=80), timedelta(seconds=30))
    assert pick.keys == tuple(files[1:4]) and pick.position == files[3] and pick.held_back == 1
    nothing = pick_files(files, files[-1], T + timedelta(hours=1), timedelta(seconds=30))
    assert nothing.empty and nothing.position == files[-1] and nothing.held_back == 0


def test_cleanup_takes_only_merged_files_older_than_the_grace():
    files = [name(T + timedelta(hours=h)) for h in (0, 1, 2, 3)]
    assert cleanable(files, files[2], T + timedelta(hours=3, minutes=30), timedelta(hours=2)) == files[:2]
    assert cleanable(files, "", T + timedelta(days=9), timedelta(hours=2)) == []


def line(key: str, seq: str, op: str = "MODIFY", value: str = "1", micros: int = 5) -> dict:
    out = {"Keys": {"pk": {"S": key}}, "SequenceNumber": seq, "eventName": op, "dedupId": f"{key}|{seq}",
           "Metadata": {"WriteTimestampMicros": {"N": str(micros)}}}
    if op != "REMOVE":
        out["NewImage"] = {"pk": {"S": key}, "v": {"N": value}}
    return out


def test_the_last_change_per_key_by_sequence_number_wins_and_duplicates_count_once():
    lines = [line("a", "110000000000000000000009", value="9", micros=9),
             line("a", "99999999999999999999999", value="8", micros=30),  # a shorter number is smaller
             line("b", "120000000000000000000001", micros=1), line("b", "120000000000000000000002", "REMOVE", micros=2),
             line("a", "110000000000000000000009", value="9", micros=9)]  # delivered twice
    reduced = reduce_lines(lines)
    assert reduced.lines == [
        {"Metadata": {"WriteTimestampMicros": {"N": "9"}}, "Keys": {"pk": {"S": "a"}},
         "NewImage": {"pk": {"S": "a"}, "v": {"N": "9"}}},
        {"Metadata": {"WriteTimestampMicros": {"N": "2"}}, "Keys": {"pk": {"S": "b"}}}]
    assert (reduced.changes, reduced.duplicates, reduced.first_micros, reduced.last_micros) == (5, 1, 1, 30)


def test_a_line_the_handler_did_not_write_is_refused_naming_the_file():
    with pytest.raises(ExportFormatError, match=r"s3://lake/x line 3: change line without SequenceNumber, dedupId"):
        parse_line('{"Keys": {}, "eventName": "INSERT", "Metadata": {}}', "s3://lake/x line 3")
    with pytest.raises(ExportFormatError, match="s3://lake/x line 1: not a JSON change line"):
        parse_line("{", "s3://lake/x line 1")


def test_a_watermark_inside_the_stream_retention_needs_no_healing():
    assert heal_window("db.t", T - timedelta(hours=23, minutes=59), T, None) is None


def test_a_30_hour_gap_heals_from_the_watermark_to_the_first_change_the_stream_still_has():
    heal = heal_window("db.t", T - timedelta(hours=30), T, T - timedelta(hours=24))
    assert (heal.start, heal.end) == (T - timedelta(hours=30), T - timedelta(hours=24))
    assert "older than the stream's 1 day, 0:00:00 retention" in heal.reason
    assert "up to the first change the stream still delivered" in heal.reason


def test_a_gap_longer_than_a_day_heals_24_hours_per_export_and_a_short_one_at_least_15_minutes():
    long = heal_window("db.t", T - timedelta(hours=50), T, T - timedelta(hours=1))
    assert (long.start, long.end) == (T - timedelta(hours=50), T - timedelta(hours=26))
    assert "1 day, 1:00:00 more by the next run(s)" in long.reason
    short = heal_window("db.t", T - timedelta(hours=25), T, T - timedelta(hours=25) + timedelta(minutes=1))
    assert short.end == T - timedelta(hours=25) + timedelta(minutes=15)
    no_files = heal_window("db.t", T - timedelta(hours=30), T, None)
    assert no_files.end == T - timedelta(hours=6)
