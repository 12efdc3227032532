"""RunReportOperator picks each figure from the task that knows it and returns the cost estimate."""

from __future__ import annotations

from ddb_lake.operators.run_report import RunReportOperator, volumes_from_results

GIB = 1024**3


def test_volumes_come_from_each_task_result():
    volumes = volumes_from_results(
        export={"item_count": 5, "export_type": "FULL_EXPORT", "billed_size_bytes": 2 * GIB},
        conversion={"items": 7, "bytes_out": GIB, "bytes_uncompressed": 3 * GIB},
        validation={"athena_statistics": {"data_scanned_bytes": 1234, "queries": 2}},
        transfers=[{"destination": "bigquery", "bytes_copied": GIB}],
        loads=[{"destination": "bigquery", "bytes_loaded": 99}],
    )
    assert volumes.items == 7
    assert volumes.export_bytes == 2 * GIB
    assert volumes.parquet_bytes == GIB
    assert volumes.athena_bytes_scanned == 1234 and volumes.athena_queries == 2
    assert volumes.figures["transfer_bytes"] == GIB and volumes.figures["bigquery_bytes_loaded"] == 99
    assert not volumes.incremental


def test_execute_logs_and_returns_report(caplog, capsys):
    operator = RunReportOperator(
        task_id="report", table="orders",
        export={"item_count": 3, "export_type": "INCREMENTAL_EXPORT"},
        conversion={"items": 3, "bytes_uncompressed": GIB, "bytes_out": 10, "snapshot": "20261122T000000Z"},
    )
    result = operator.execute(context={})
    assert result["table"] == "orders" and result["snapshot"] == "20261122T000000Z"
    assert result["incremental"] is True
    assert result["estimated_cost_usd"]["dynamodb_export"] == 0.1
    captured = capsys.readouterr()
    assert "ddb-lake run report: table orders" in caplog.text + captured.out + captured.err


def test_the_lake_contract_widenings_appear_in_the_report():
    lake_publish = {"action": "published", "contract_changes": [
        {"snapshot": "20261122T000000Z", "column": "qty", "attribute": "qty", "change": "widened",
         "type": {"kind": "decimal", "precision": 21, "scale": 2}, "previous_type": {"kind": "int64"}},
        {"snapshot": "20261122T000000Z", "column": "flag", "attribute": "flag", "change": "added",
         "type": {"kind": "bool"}},
    ]}
    report = RunReportOperator(task_id="report", table="orders", conversion={"items": 2, "snapshot": "s"},
                               lake_publish=lake_publish).execute({})
    assert report["contract_changes"] == lake_publish["contract_changes"]
    assert "\n  widened qty: int64 → decimal(21,2)\n" in report["report_text"] + "\n"
    assert "flag" not in report["report_text"]
    assert RunReportOperator(task_id="r", table="orders").execute({})["contract_changes"] == []



def test_a_scan_export_is_reported_as_not_point_in_time_and_priced_by_read_units():
    scan = {"items": 3, "scanned": 4, "pages": 2, "files": 1, "read_units": 1_000_000.0, "segments": 4,
            "filtered": True, "consistent_read": False, "budget_units_per_second": 100.0,
            "budget_basis": "on-demand, target 100 read units/s", "on_demand": True, "units_per_second": 50.0,
            "started_at": "2026-11-22T00:00:01+00:00", "finished_at": "2026-11-22T05:33:21+00:00",
            "note": "a scan is not a point-in-time snapshot: ..."}
    operator = RunReportOperator(
        task_id="report", table="orders", export={"item_count": 3, "export_type": "FULL_EXPORT", "scan": scan},
        conversion={"items": 3, "bytes_uncompressed": GIB, "bytes_out": 10, "snapshot": "20261122T000000Z"},
    )
    result = operator.execute(context={})
    assert result["estimated_cost_usd"]["dynamodb_scan_reads"] == 0.125  # a million on-demand read units
    assert "dynamodb_export" not in result["estimated_cost_usd"] and result["scan"] == scan
    assert "scan: NOT point-in-time" in result["report_text"]
    assert "started 2026-11-22T00:00:01+00:00, ended 2026-11-22T05:33:21+00:00" in result["report_text"]
    assert "read units (scan)       1,000,000.0" in result["report_text"]
