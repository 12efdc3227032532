"""Table YAML validation: every error names the file and the field."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from ddb_lake.core.config.table_config import TableConfigError, load_table_config, load_table_configs

REPO_ROOT = Path(__file__).resolve().parents[2]
MINIMAL = {
    "dynamodb": {"table_name": "Orders"},
    "lake": {"bucket": "lake-bucket"},
    "glue": {"database": "lake_db"},
    "athena": {"output_location": "s3://lake-bucket/athena/"},
}


def write(tmp_path: Path, data: dict, name: str = "orders.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_minimal_file_gets_defaults(tmp_path):
    config = load_table_config(write(tmp_path, MINIMAL))
    assert config.name == "orders"
    assert config.glue_table == "orders"
    assert config.export.mode == "full"
    assert config.numbers == "exact"
    assert config.bigquery is None
    assert config.start_date == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert config.retries == 3


def test_shipped_table_files_are_valid():
    configs = load_table_configs(REPO_ROOT / "include" / "tables")
    assert [c.name for c in configs] == sorted(c.name for c in configs)
    assert "orders" in [c.name for c in configs]
    orders = next(c for c in configs if c.name == "orders")
    assert orders.bigquery is not None and orders.bigquery_table == "orders"


@pytest.mark.parametrize(
    ("patch", "field_name", "words"),
    [
        ({"schedul": "@daily"}, "schedul", "unknown setting"),
        ({"lake": {"bucket": "b", "prefx": "x"}}, "lake.prefx", "unknown setting"),
        ({"export": {"mode": "weekly"}}, "export.mode", "'weekly' is not one of full, incremental, both"),
        ({"numbers": "fast"}, "numbers", "is not one of exact, float"),
        ({"catchup": "yes"}, "catchup", "expected true or false"),
        ({"retries": "three"}, "retries", "expected a number"),
        ({"athena": {"output_location": "/tmp/x"}}, "athena.output_location", "must be an s3:// URL"),
        ({"glue": {"database": "d", "catalog_mode": "crawler"}}, "glue.crawler_role", "needs an IAM role"),
        ({"retention": {"keep_last": 0}}, "retention.keep_last", "at least the current snapshot"),
        ({"name": "Orders-Table"}, "name", "must match"),
        ({"start_date": "soon"}, "start_date", "expected a date"),
    ],
)
def test_bad_settings_name_file_and_field(tmp_path, patch, field_name, words):
    path = write(tmp_path, {**MINIMAL, **patch})
    with pytest.raises(TableConfigError) as caught:
        load_table_config(path)
    assert caught.value.field_name == field_name
    assert str(path) in str(caught.value)
    assert words in str(caught.value)


def test_missing_required_section(tmp_path):
    data = {k: v for k, v in MINIMAL.items() if k != "glue"}
    with pytest.raises(TableConfigError, match=r"glue: required setting is missing"):
        load_table_config(write(tmp_path, data))


def test_duplicate_names_across_files(tmp_path):
    write(tmp_path, {**MINIMAL, "name": "orders"}, "a.yaml")
    write(tmp_path, {**MINIMAL, "name": "orders"}, "b.yaml")
    with pytest.raises(TableConfigError, match=r"b.yaml: name: 'orders' is also used by .*a.yaml"):
        load_table_configs(tmp_path)


def test_broken_yaml(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("lake: [unclosed\n")
    with pytest.raises(TableConfigError, match="not valid YAML"):
        load_table_config(path)


def test_conversion_publish_and_catalog_knobs_reach_their_settings(tmp_path):
    data = {
        **MINIMAL,
        "lake": {"bucket": "lake-bucket", "allow_rollback": True},
        "glue": {"database": "lake_db", "partition_projection": True},
        "convert": {"workers": 2, "target_file_mb": 64, "row_group_rows": 1000, "compression": "snappy"},
    }
    config = load_table_config(write(tmp_path, data))
    assert config.lake.allow_rollback is True
    assert config.glue.partition_projection is True
    assert config.convert.converter_options() == {
        "target_file_bytes": 64 << 20, "row_group_rows": 1000, "compression": "snappy", "workers": 2,
    }
    defaults = load_table_config(write(tmp_path, MINIMAL, "plain.yaml"))
    assert defaults.convert.converter_options() == {
        "target_file_bytes": 256 << 20, "row_group_rows": 256 * 1024, "compression": "zstd",
    }
    assert defaults.lake.allow_rollback is False and defaults.glue.partition_projection is False


@pytest.mark.parametrize(
    ("convert", "field_name"),
    [({"compression": "lz4"}, "convert.compression"), ({"target_file_mb": 0}, "convert"), ({"workers": -1}, "convert")],
)
def test_bad_conversion_knobs_name_the_field(tmp_path, convert, field_name):
    with pytest.raises(TableConfigError) as raised:
        load_table_config(write(tmp_path, {**MINIMAL, "convert": convert}))
    assert raised.value.field_name == field_name


def test_bigquery_knobs_are_checked(tmp_path):
    bigquery = {"project": "p", "dataset": "d", "gcs_bucket": "b"}
    config = load_table_config(write(tmp_path, {**MINIMAL, "bigquery": bigquery}))
    assert (config.bigquery.transfer_method, config.bigquery.partition_expiration_days) == ("stream", 0)
    assert config.bigquery.force_rerun is False
    for bad, field_name in [({"transfer_method": "rsync"}, "bigquery.transfer_method"),
                            ({"partition_expiration_days": -1}, "bigquery.partition_expiration_days")]:
        with pytest.raises(TableConfigError) as raised:
            load_table_config(write(tmp_path, {**MINIMAL, "bigquery": {**bigquery, **bad}}))
        assert raised.value.field_name == field_name
