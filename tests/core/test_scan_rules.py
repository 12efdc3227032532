"""export.mode scan: the pure rules (settings, layout, checkpoints, budget and pauses, report) with exact values."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from ddb_lake.core.config.table_config import TableConfigError, load_table_config
from ddb_lake.core.errors import ConfigError
from ddb_lake.core.export.scan_checkpoint import ScanFile, SegmentCheckpoint, read_checkpoint, scan_totals
from ddb_lake.core.export.scan_layout import (
    checkpoint_key,
    data_file_body,
    data_file_key,
    exportable,
    manifest_files_text,
    md5_base64,
    restored_key,
    scan_export_id,
)
from ddb_lake.core.export.scan_rate import (
    ReadBudget,
    page_read_units,
    pause_seconds,
    read_budget,
    segment_rate,
    segments_of_group,
    throttle_delay,
)
from ddb_lake.core.export.scan_report import render_scan, scan_summary
from ddb_lake.core.export.scan_settings import ScanSettings, scan_problems
from ddb_lake.core.validation.run_report import RunVolumes, estimate_cost_usd, render_report

END = datetime(2026, 11, 22, tzinfo=UTC)
PREFIX = "lake/exports/orders/full/20261122T000000Z"
MINIMAL = {
    "dynamodb": {"table_name": "Orders"},
    "lake": {"bucket": "lake-bucket"},
    "glue": {"database": "lake_db"},
    "athena": {"output_location": "s3://lake-bucket/athena/"},
}


# --- settings -------------------------------------------------------------------------------------------------------

def load(tmp_path: Path, export: dict):
    path = tmp_path / "orders.yaml"
    path.write_text(yaml.safe_dump({**MINIMAL, "export": export}))
    return load_table_config(path)


def test_scan_settings_load_with_defaults_and_typed_values(tmp_path):
    config = load(tmp_path, {"mode": "scan", "scan": {
        "segments": 8, "filter_expression": "#s = :s", "expression_attribute_names": {"#s": "status"},
        "expression_attribute_values": {":s": {"S": "PAID"}}}})
    scan = config.export.scan
    assert config.export.mode == "scan"
    assert (scan.segments, scan.read_capacity_share, scan.target_read_units_per_second) == (8, 0.25, 100.0)
    assert scan.consistent_read is False and scan.page_items is None and scan.file_items == 100_000
    assert scan.expression_attribute_values == {":s": {"S": "PAID"}}


@pytest.mark.parametrize(("scan", "field", "words"), [
    ({"segments": 0}, "export.scan.segments", "between 1 and 1000000"),
    ({"read_capacity_share": 1.5}, "export.scan.read_capacity_share", "<= 1"),
    ({"target_read_units_per_second": 0}, "export.scan.target_read_units_per_second", "must be > 0"),
    ({"page_items": 0}, "export.scan.page_items", ">= 1"),
    ({"segments": 2, "segment_groups": 3}, "export.scan.segment_groups", "between 1 and segments (2)"),
    ({"filter_expression": "n > :n", "expression_attribute_values": {":n": {"N": 10}}},
     "export.scan.expression_attribute_values.:n", "write numbers as strings"),
    ({"filter_expression": "n > :n", "expression_attribute_values": {":n": "10"}},
     "export.scan.expression_attribute_values.:n", "is not a typed value"),
    ({"expression_attribute_names": {"#s": "status"}}, "export.scan.expression_attribute_names", "#s not used"),
    ({"segmets": 4}, "export.scan.segmets", "unknown setting"),
])
def test_bad_scan_settings_name_file_and_field(tmp_path, scan, field, words):
    with pytest.raises(TableConfigError) as error:
        load(tmp_path, {"mode": "scan", "scan": scan})
    assert error.value.field_name == field and words in error.value.problem
    assert str(tmp_path / "orders.yaml") in str(error.value)


def test_scan_settings_under_another_mode_are_refused(tmp_path):
    with pytest.raises(TableConfigError) as error:
        load(tmp_path, {"mode": "full", "scan": {"segments": 8}})
    assert error.value.field_name == "export.scan" and "export.mode is 'full'" in error.value.problem


def test_default_scan_settings_have_no_problem():
    assert [p for p in scan_problems(ScanSettings(), "full") if p[1]] == []


# --- layout ---------------------------------------------------------------------------------------------------------

def test_export_id_is_the_interval_end_and_a_hash_of_what_is_read():
    scan = ScanSettings()
    first = scan_export_id("Orders", PREFIX, END, scan)
    assert first == scan_export_id("Orders", PREFIX + "/", END, scan)
    assert first.startswith("01795305600000-") and len(first) == 23
    same_result = replace(scan, target_read_units_per_second=5, file_items=10, page_items=7, read_capacity_share=1,
                          segment_groups=2)
    assert scan_export_id("Orders", PREFIX, END, same_result) == first  # rate and file size do not change the items
    assert scan_export_id("Orders", PREFIX, END, replace(scan, segments=8)) != first
    assert scan_export_id("Orders", PREFIX, END, replace(scan, filter_expression="a = :a")) != first


def test_keys_of_data_files_and_checkpoints():
    assert data_file_key(PREFIX, "X", 3, 12) == f"{PREFIX}/AWSDynamoDB/X/data/segment-00003-part-00012.json.gz"
    assert checkpoint_key(PREFIX, "X", 3) == f"{PREFIX}/_ddb_lake_scan/X/segment-00003.json"


def test_exportable_encodes_binary_everywhere_and_leaves_numbers_as_text():
    item = {"pk": {"S": "a"}, "B": {"S": "an attribute named B"}, "L": {"N": "1E+3"}, "bin": {"B": b"\x00\xff"},
            "bs": {"BS": [b"\x01"]}, "list": {"L": [{"B": b"\x02"}, {"M": {"x": {"B": b"\x03"}}}]},
            "n": {"N": "12345678901234567890123456789.123456789"}, "null": {"NULL": True}}
    assert exportable(item) == {
        "pk": {"S": "a"}, "B": {"S": "an attribute named B"}, "L": {"N": "1E+3"}, "bin": {"B": "AP8="},
        "bs": {"BS": ["AQ=="]}, "list": {"L": [{"B": "Ag=="}, {"M": {"x": {"B": "Aw=="}}}]},
        "n": {"N": "12345678901234567890123456789.123456789"}, "null": {"NULL": True}}
    assert restored_key({"pk": {"B": "AP8="}, "sk": {"N": "1"}}) == {"pk": {"B": b"\x00\xff"}, "sk": {"N": "1"}}
    assert restored_key(None) is None


def test_data_file_is_the_same_bytes_for_the_same_items():
    items = [{"pk": {"S": "a"}, "n": {"N": "1.50"}}, {"pk": {"S": "b"}, "b": {"B": b"\x00"}}]
    body, count, raw = data_file_body(items)
    assert data_file_body(items)[0] == body and count == 2
    lines = gzip.decompress(body).decode()
    assert lines == '{"Item":{"pk":{"S":"a"},"n":{"N":"1.50"}}}\n{"Item":{"pk":{"S":"b"},"b":{"B":"AA=="}}}\n'
    assert raw == len(lines.encode())
    assert md5_base64(body) == base64.b64encode(hashlib.md5(body).digest()).decode()


def test_manifest_files_lines_in_aws_field_names():
    md5 = base64.b64encode(bytes(range(16))).decode()
    text = manifest_files_text([{"key": "p/AWSDynamoDB/X/data/f.json.gz", "items": 7, "md5": md5}])
    assert json.loads(text) == {"itemCount": 7, "md5Checksum": md5, "etag": bytes(range(16)).hex(),
                                "dataFileS3Key": "p/AWSDynamoDB/X/data/f.json.gz"}
    assert text.endswith("\n")


# --- checkpoints ----------------------------------------------------------------------------------------------------

def file(n: int, items: int) -> ScanFile:
    return ScanFile(key=f"k{n}", items=items, md5="bWQ1", bytes=10, raw_bytes=100)


def test_checkpoint_counts_files_and_is_done_without_a_next_key():
    fresh = read_checkpoint(None, export_id="X", segment=1, total_segments=4, where="s3://b/c")
    assert fresh == SegmentCheckpoint("X", 1, 4) and fresh.next_part() == 0
    begun = fresh.begun("t0")
    assert begun.begun("t9").started_at == "t0"  # a resumed try keeps the first start
    one = begun.with_file(file(0, 5), last_key={"pk": {"B": b"\x01"}}, pages=2, scanned=6, read_units=1.5, now="t1")
    assert (one.items, one.next_part(), one.done, one.finished_at) == (5, 1, False, "")
    assert one.last_key == {"pk": {"B": "AQ=="}}
    two = one.with_file(None, last_key=None, pages=1, scanned=0, read_units=0.5, now="t2")
    assert (two.items, two.done, two.pages, two.scanned, two.read_units, two.finished_at) == (5, True, 3, 6, 2.0, "t2")
    assert read_checkpoint(two.to_json(), export_id="X", segment=1, total_segments=4, where="w") == two


def test_checkpoint_of_another_scan_or_not_json_is_refused_with_the_fix():
    body = SegmentCheckpoint("X", 1, 4).to_json()
    with pytest.raises(ConfigError, match=r"is for export X segment 1/4, not Y segment 1/4\. Delete it"):
        read_checkpoint(body, export_id="Y", segment=1, total_segments=4, where="s3://b/c")
    with pytest.raises(ConfigError, match="s3://b/c is not a ddb-lake scan checkpoint"):
        read_checkpoint("{", export_id="X", segment=1, total_segments=4, where="s3://b/c")


def test_totals_over_segments():
    a = SegmentCheckpoint("X", 0, 2, files=(file(0, 3), file(1, 4)), done=True, pages=3, scanned=9, read_units=1.5,
                          started_at="2026-11-22T00:00:01+00:00", finished_at="2026-11-22T00:00:05+00:00")
    b = SegmentCheckpoint("X", 1, 2, files=(file(0, 2),), done=True, pages=1, scanned=2, read_units=0.5,
                          started_at="2026-11-22T00:00:00+00:00", finished_at="2026-11-22T00:00:09+00:00")
    assert scan_totals([a, b]) == {"items": 9, "files": 3, "pages": 4, "scanned": 11, "read_units": 2.0,
                                   "raw_bytes": 300, "started_at": "2026-11-22T00:00:00+00:00",
                                   "finished_at": "2026-11-22T00:00:09+00:00"}


# --- budget and pauses ----------------------------------------------------------------------------------------------

def test_budget_is_a_share_of_provisioned_capacity_or_the_on_demand_target():
    provisioned = {"BillingModeSummary": {"BillingMode": "PROVISIONED"},
                   "ProvisionedThroughput": {"ReadCapacityUnits": 400}}
    assert read_budget(provisioned, ScanSettings()) == ReadBudget(100.0, False, "0.25 of 400 provisioned read units/s")
    on_demand = {"BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
                 "ProvisionedThroughput": {"ReadCapacityUnits": 0}}
    assert read_budget(on_demand, ScanSettings(target_read_units_per_second=50)) == ReadBudget(
        50.0, True, "on-demand, target 50 read units/s")
    capped = {**on_demand, "OnDemandThroughput": {"MaxReadRequestUnits": 20}}
    assert read_budget(capped, ScanSettings()) == ReadBudget(20.0, True, "on-demand, the table's maximum of 20 read "
                                                                         "units/s")
    assert read_budget({"ProvisionedThroughput": {"ReadCapacityUnits": 10}}, ScanSettings()).units_per_second == 2.5


def test_segment_rate_and_pause_keep_the_average_under_the_share():
    budget = ReadBudget(100.0, True, "")
    assert segment_rate(budget, 4, 16) == 25.0 and segment_rate(budget, 8, 2) == 50.0
    assert segment_rate(budget, 2, 16, groups=2) == 25.0  # 2 mapped tasks of 2 segments each
    assert segments_of_group(8, 3, 1) == [1, 4, 7] and segments_of_group(3, 1, None) == [0, 1, 2]
    assert pause_seconds(50.0, 1.0, 25.0) == 1.0  # 50 units at 25/s need 2 s; 1 s has passed
    assert pause_seconds(10.0, 1.0, 25.0) == 0.0


def test_page_read_units_reported_or_estimated_from_bytes():
    assert page_read_units({"ConsumedCapacity": {"CapacityUnits": 12.5}}, 1, False) == 12.5
    assert page_read_units({}, 4096 * 3 + 1, False) == 2.0  # 4 units of 4 KB, halved: eventually consistent
    assert page_read_units({}, 4096 * 3 + 1, True) == 4.0
    assert page_read_units({}, 0, False) == 0.5


def test_throttle_backoff_doubles_up_to_twenty_seconds():
    assert [throttle_delay(n) for n in (1, 2, 3, 6, 7, 12)] == [0.5, 1.0, 2.0, 16.0, 20.0, 20.0]


# --- report ---------------------------------------------------------------------------------------------------------

def test_scan_summary_and_report_say_not_point_in_time_with_start_end_and_units():
    totals = {"items": 90, "files": 2, "pages": 4, "scanned": 100, "read_units": 50.0, "raw_bytes": 1000,
              "started_at": "2026-11-22T00:00:00+00:00", "finished_at": "2026-11-22T00:00:10+00:00"}
    scan = scan_summary(totals, ReadBudget(10.0, True, "on-demand, target 10 read units/s"),
                        ScanSettings(filter_expression="a = :a", expression_attribute_values={":a": {"S": "x"}}))
    assert (scan["seconds"], scan["units_per_second"], scan["point_in_time"]) == (10.0, 5.0, False)
    assert scan["filtered"] is True
    text = render_scan(scan)
    assert "scan: NOT point-in-time" in text
    assert "started 2026-11-22T00:00:00+00:00, ended 2026-11-22T00:00:10+00:00" in text
    assert "100 items read in 4 pages, 90 kept by the filter, 50.0 read units (5.00 units/s; budget 10 units/s" in text
    assert render_scan(None) == ""


def test_a_scan_is_priced_by_read_units_not_by_exported_bytes():
    on_demand = RunVolumes(export_bytes=1024**3, scan=True, scan_read_units=2_000_000)
    assert estimate_cost_usd(on_demand) == {"athena": 0.0, "dynamodb_scan_reads": 0.25, "total": 0.25,
                                            "s3_storage_per_month": 0.0}
    provisioned = RunVolumes(scan=True, scan_read_units=3600 * 1000, scan_on_demand=False)
    assert estimate_cost_usd(provisioned)["dynamodb_scan_reads"] == 0.13
    assert "  read units (scan)       3,600,000.0\n" in render_report("t", "s", provisioned)
    assert "dynamodb_export" in estimate_cost_usd(RunVolumes(export_bytes=1024**3))
