"""Pure rules of validation: key checksum verdicts, key columns, the convert summary check, the destination registry."""

from __future__ import annotations

import pytest

from ddb_lake import destinations
from ddb_lake.core.errors import ConfigError
from ddb_lake.core.schema.lake_schema import LakeField, LakeSchema, LakeType
from ddb_lake.core.validation.row_counts import compare_key_checksums, require_key_columns
from ddb_lake.core.validation.run_report import RunVolumes, VolumeLine, render_report, report_dict
from ddb_lake.core.validation.snapshot_summary import snapshot_summary


def test_key_checksums_match_only_when_every_copy_has_the_same_rows_and_sum():
    verdict = compare_key_checksums(["pk", "sk"], (75, 1000), {"bigquery": (75, 1000)})
    assert verdict == {
        "columns": ["pk", "sk"], "parquet": 1000, "bigquery": 1000, "ok": True,
        "message": "key checksum over (pk, sk): parquet 1000 (75 rows), bigquery 1000 (75 rows): match",
    }  # fmt: skip
    two = compare_key_checksums(["pk"], (75, 1000), {"bigquery": (75, 1000), "other": (74, 1000)})
    assert not two["ok"] and two["other"] == 1000
    assert two["message"].endswith("bigquery 1000 (75 rows), other 1000 (74 rows): DIFFER")


def test_key_columns_must_be_in_the_snapshot():
    schema = LakeSchema((LakeField("pk", "PK", LakeType("string")), LakeField("n", "n", LakeType("int64"))))
    require_key_columns(["pk"], schema)
    with pytest.raises(ConfigError, match=r"key column\(s\) \['sk'\] are not in the snapshot; columns: \['n', 'pk'\]"):
        require_key_columns(["pk", "sk"], schema)


def test_snapshot_summary_names_what_is_missing():
    summary = {"files": [{"path": "s3://b/k"}], "snapshot": "S"}
    assert snapshot_summary(summary, "files", "snapshot") is summary
    with pytest.raises(ConfigError, match=r"snapshot summary has no schema \(keys: \['files', 'snapshot'\]\)"):
        snapshot_summary(summary, "files", "schema")
    with pytest.raises(ConfigError, match="got str"):
        snapshot_summary("{'files': []}", "files")


def test_registry_finds_destinations_by_name_and_groups_results(monkeypatch):
    built = []
    monkeypatch.setitem(destinations.DESTINATIONS, "demo", lambda settings: built.append(settings) or "made")
    assert destinations.destination_named("demo", {"location": "EU"}) == "made" and built == [{"location": "EU"}]
    with pytest.raises(ConfigError, match=r"no destination 'gone' is registered; known: .*bigquery"):
        destinations.destination_named("gone")
    grouped = destinations.results_by_destination([{"destination": "a", "n": 1}, {"destination": "b"},
                                                   {"destination": "a", "n": 2}])  # fmt: skip
    assert list(grouped) == ["a", "b"] and [r.get("n") for r in grouped["a"]] == [1, 2]
    assert destinations.results_by_destination(None) == {}
    with pytest.raises(ConfigError, match="result names no destination"):
        destinations.results_by_destination([{"job_id": "j"}])


def test_bigquery_is_registered_by_path_and_imports_no_airflow_until_used():
    assert destinations.DESTINATIONS["bigquery"] == "ddb_lake.destinations.bigquery.destination:BigQuery"
    bigquery = destinations.destination_named("bigquery", {"gcp_conn_id": "g", "location": "EU"})
    assert (bigquery.name, bigquery.gcp_conn_id, bigquery.location) == ("bigquery", "g", "EU")


def test_a_report_without_destinations_shows_only_the_lake():
    volumes = RunVolumes(items=3)
    text = render_report("t", "S", volumes)
    assert "bigquery" not in text and "transfer" not in text
    assert set(report_dict("t", "S", volumes)) == {
        "table", "snapshot", "items", "export_bytes", "parquet_bytes", "athena_bytes_scanned", "athena_queries",
        "incremental", "estimated_cost_usd",
    }  # fmt: skip
    line = VolumeLine("x_bytes", 5, label="x bytes")  # shown, not priced
    assert report_dict("t", "S", RunVolumes(destination_lines=(line, line)))["x_bytes"] == 10
    assert "x_bytes" not in report_dict("t", "S", RunVolumes(destination_lines=(line,)))["estimated_cost_usd"]
