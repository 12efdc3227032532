"""``lake.format`` in the table YAML: parquet by default, iceberg only with the incremental DAG."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ddb_lake.core.config.table_config import IcebergSettings, TableConfigError, load_table_config

MINIMAL = {
    "dynamodb": {"table_name": "Books"},
    "lake": {"bucket": "lake-bucket"},
    "glue": {"database": "lake_db"},
    "athena": {"output_location": "s3://lake-bucket/athena/"},
}


def write(tmp_path: Path, **patch) -> Path:
    path = tmp_path / "books.yaml"
    data = {**MINIMAL, **patch}
    path.write_text(yaml.safe_dump(data))
    return path


def test_format_defaults_to_parquet(tmp_path):
    assert load_table_config(write(tmp_path)).lake.format == "parquet"


def test_iceberg_with_incremental_mode(tmp_path):
    config = load_table_config(write(tmp_path, lake={"bucket": "lake-bucket", "format": "iceberg"},
                                     export={"mode": "incremental"}))
    assert config.lake.format == "iceberg"


@pytest.mark.parametrize(
    ("lake", "export", "words"),
    [
        ({"bucket": "lake-bucket", "format": "delta"}, {"mode": "incremental"},
         "'delta' is not one of parquet, iceberg"),
        ({"bucket": "lake-bucket", "format": "iceberg"}, {"mode": "full"}, "iceberg needs export.mode incremental"),
        ({"bucket": "lake-bucket", "format": "iceberg"}, {"mode": "both"}, "Set export.mode: incremental"),
    ],
)
def test_bad_format_names_file_and_field(tmp_path, lake, export, words):
    path = write(tmp_path, lake=lake, export=export)
    with pytest.raises(TableConfigError) as err:
        load_table_config(path)
    assert err.value.field_name == "lake.format"
    assert err.value.path == str(path)
    assert words in str(err.value)


def test_iceberg_settings_default_and_read(tmp_path):
    base = {"lake": {"bucket": "lake-bucket", "format": "iceberg"}, "export": {"mode": "incremental"}}
    assert load_table_config(write(tmp_path, **base)).iceberg == IcebergSettings(
        merge_engine="auto", athena_min_rows=50_000_000, compact_every_runs=24, small_file_mb=32,
        verify_full_every_runs=24)
    config = load_table_config(write(tmp_path, **base, iceberg={"merge_engine": "athena", "compact_every_runs": 0,
                                                                "verify_full_every_runs": 0}))
    assert (config.iceberg.merge_engine, config.iceberg.compact_every_runs) == ("athena", 0)
    assert config.iceberg.verify_full_every_runs == 0


@pytest.mark.parametrize(
    ("iceberg", "field", "words"),
    [
        ({"merge_engine": "spark"}, "iceberg.merge_engine", "'spark' is not one of auto, worker, athena"),
        ({"athena_min_rows": -1}, "iceberg.athena_min_rows", "must be >= 0"),
        ({"compact_every_runs": -2}, "iceberg.compact_every_runs", "0: never compact"),
        ({"small_file_mb": 0}, "iceberg.small_file_mb", "must be >= 1"),
        ({"verify_full_every_runs": -1}, "iceberg.verify_full_every_runs", "0: never check against a full export"),
        ({"merge_engin": "athena"}, "iceberg.merge_engin", "unknown setting"),
    ],
)
def test_bad_iceberg_setting_names_file_and_field(tmp_path, iceberg, field, words):
    path = write(tmp_path, lake={"bucket": "lake-bucket", "format": "iceberg"}, export={"mode": "incremental"},
                 iceberg=iceberg)
    with pytest.raises(TableConfigError) as err:
        load_table_config(path)
    assert (err.value.field_name, err.value.path) == (field, str(path))
    assert words in str(err.value)
