"""convert.engine auto: the slice count from the export's gzip bytes, exact at the thresholds."""

from __future__ import annotations

from ddb_lake.core.convert.engine_choice import ONE_TASK_MAX_BYTES, SLICE_BYTES, choose_slices

GIB = 1 << 30


def test_thresholds_are_the_documented_ones():
    assert (ONE_TASK_MAX_BYTES, SLICE_BYTES) == (4 * GIB, 2 * GIB)


def test_up_to_the_one_task_limit_one_slice():
    choice = choose_slices(4 * GIB, files=64, max_slices=16)
    assert choice.slices == 1
    assert choice.reason == "auto: one slice (the whole export in one task): 4.00 GiB of gzip is at most 4.00 GiB"
    assert choose_slices(0, files=0, max_slices=16).slices == 1


def test_one_byte_over_splits_into_slices_of_about_slice_bytes():
    choice = choose_slices(4 * GIB + 1, files=64, max_slices=16)
    assert choice.slices == 3
    assert choice.reason == "auto: 3 slices: 4.00 GiB of gzip is over 4.00 GiB; about 2.00 GiB per slice"
    assert choose_slices(6 * GIB, files=64, max_slices=16).slices == 3
    assert choose_slices(6 * GIB + 1, files=64, max_slices=16).slices == 4


def test_capped_by_convert_slices_and_says_so():
    choice = choose_slices(100 * GIB, files=400, max_slices=16)
    assert choice.slices == 16
    assert choice.reason == ("auto: 16 slices: 100.00 GiB of gzip is over 4.00 GiB; about 2.00 GiB per slice would "
                             "take 50, capped at 16 by convert.slices (6.25 GiB per slice); raise convert.slices or "
                             "use engine spark for exports this size")


def test_capped_by_the_data_files():
    choice = choose_slices(10 * GIB, files=3, max_slices=16)
    assert choice.slices == 3 and "capped at 3 by the data file count" in choice.reason


def test_one_file_or_one_slice_allowed_stays_one_task():
    assert choose_slices(10 * GIB, files=1, max_slices=16).reason == (
        "auto: one slice (the whole export in one task): 10.00 GiB of gzip, but one data file")
    assert choose_slices(10 * GIB, files=8, max_slices=1).reason == (
        "auto: one slice (the whole export in one task): 10.00 GiB of gzip, but convert.slices is 1")


def test_slice_plan_in_auto_takes_one_slice_for_a_small_export_and_logs_why(tmp_path):
    from ddb_lake.core.convert.export_slices import export_slice_plan
    from ddb_lake.core.convert.export_writer import item_line, write_export
    from ddb_lake.core.convert.storage import Storage

    src = write_export(tmp_path / "AWSDynamoDB" / "01700000000000-auto0001",
                       [[item_line({"pk": {"S": f"k{f}-{i}"}}) for i in range(3)] for f in range(4)])
    notes: list[str] = []
    plan = export_slice_plan(str(src), 8, Storage(), auto=True, note=notes.append)
    assert [s["files"] for s in plan] == [[0, 1, 2, 3]]
    assert notes == ["export 01700000000000-auto0001: auto: one slice (the whole export in one task): 0.00 GiB of "
                     "gzip is at most 4.00 GiB"]
    assert len(export_slice_plan(str(src), 8, Storage())) == 4  # engine mapped: slices as set

