"""Run report: exact cost arithmetic from the price constants."""

from __future__ import annotations

import re

from ddb_lake.core.validation.run_report import (
    GB,
    TB,
    RunVolumes,
    estimate_cost_usd,
    human_bytes,
    render_contract_changes,
    render_report,
)
from ddb_lake.destinations.bigquery.destination import volume_lines as bigquery_lines


def test_cost_lines_follow_list_prices():
    bigquery = bigquery_lines(loads=[{"bytes_loaded": 2 * GB}], transfers=[{"bytes_copied": 2 * GB}])
    volumes = RunVolumes(items=10, export_bytes=10 * GB, parquet_bytes=2 * GB, athena_bytes_scanned=TB // 2,
                         athena_queries=2, destination_lines=tuple(bigquery))
    cost = estimate_cost_usd(volumes)
    assert cost["dynamodb_export"] == 1.0
    assert cost["athena"] == 2.5
    assert cost["s3_to_gcs_transfer"] == 0.18
    assert cost["bigquery_load"] == 0.0
    assert cost["total"] == 3.68
    assert cost["s3_storage_per_month"] == 0.046


def test_athena_bills_ten_megabytes_minimum_per_query():
    cost = estimate_cost_usd(RunVolumes(athena_bytes_scanned=0, athena_queries=3))
    assert cost["athena"] == round(3 * 10 * 1024**2 / TB * 5.0, 4)


def test_human_bytes_and_report_text():
    assert human_bytes(512) == "512 B"
    assert human_bytes(3 * 1024**2) == "3.00 MiB"
    text = render_report("orders", "20261122T000000Z", RunVolumes(items=1234, export_bytes=GB))
    assert text.splitlines()[0] == "ddb-lake run report: table orders, snapshot 20261122T000000Z"
    assert "1,234" in text and "1.00 GiB" in text and "0.1000" in text
    # the export figure is what DynamoDB bills (BilledSizeBytes), a scan's the data converted: each says which
    assert re.search(r"^  export billed size +1\.00 GiB$", text, re.MULTILINE)
    scan = render_report("orders", "20261122T000000Z", RunVolumes(export_bytes=GB, scan=True))
    assert re.search(r"^  export data size +1\.00 GiB$", scan, re.MULTILINE)


def test_contract_widenings_are_one_line_each_and_additions_are_not_listed():
    changes = [  # a publish's contract_changes (ContractChange.to_json)
        {"snapshot": "20261122T000000Z", "column": "qty", "attribute": "qty", "change": "widened",
         "type": {"kind": "decimal", "precision": 21, "scale": 2}, "previous_type": {"kind": "int64"}},
        {"snapshot": "20261122T000000Z", "column": "address.zip", "attribute": "zip", "change": "widened",
         "type": {"kind": "json"}, "previous_type": {"kind": "int64"}},
        {"snapshot": "20261122T000000Z", "column": "tags", "attribute": "tags", "change": "widened",
         "type": {"kind": "json"}, "previous_type": {"kind": "list", "item": {"kind": "string"}}},
        {"snapshot": "20261122T000000Z", "column": "flag", "attribute": "flag", "change": "added",
         "type": {"kind": "bool"}},
    ]
    assert render_contract_changes(changes) == (
        "  widened qty: int64 → decimal(21,2)\n"
        "  widened address.zip: int64 → json\n"
        "  widened tags: list<string> → json"
    )
    assert render_contract_changes([]) == render_contract_changes(None) == ""

