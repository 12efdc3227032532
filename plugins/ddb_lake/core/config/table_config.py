"""One table's pipeline settings, read from ``include/tables/<name>.yaml`` and validated strictly.

A key that is not known is an error (a typo must not silently fall back to a default); every error names the
file and the dotted field. Pure: imports no Airflow, so the same validation runs in tests and CI.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from ddb_lake.core.errors import ConfigError
from ddb_lake.destinations.bigquery.config import BIGQUERY_LAYOUTS, BIGQUERY_TRANSFER_METHODS, BigQuerySettings

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
EXPORT_MODES = ("full", "incremental", "both")
VIEW_TYPES = ("NEW_AND_OLD_IMAGES", "NEW_IMAGE")
CATALOG_MODES = ("api", "crawler")
REPAIR_MODES = ("add_partition", "msck", "none")
NUMBER_MODES = ("exact", "float")
COMPRESSIONS = ("zstd", "snappy", "gzip", "none")


class TableConfigError(ConfigError, ValueError):
    """A table YAML file is invalid; the message names the file and the field."""

    def __init__(self, path: str, field_name: str, problem: str) -> None:
        self.path = path
        self.field_name = field_name
        super().__init__(f"{path}: {field_name}: {problem}")


@dataclass(frozen=True)
class DynamoDBSource:
    table_name: str
    region: str = "us-east-1"


@dataclass(frozen=True)
class ExportSettings:
    mode: str = "full"
    view_type: str = "NEW_AND_OLD_IMAGES"
    incremental_schedule: str = "@hourly"
    check_recovery_window: bool = True
    poll_seconds: int = 30


@dataclass(frozen=True)
class LakeSettings:
    bucket: str
    prefix: str = "ddb-lake"
    allow_rollback: bool = False  # publishing an older interval moves the current table back (default: keep newer)


@dataclass(frozen=True)
class GlueSettings:
    database: str
    table: str = ""
    catalog_mode: str = "api"
    crawler_role: str = ""
    partition_projection: bool = False  # declare injected partition projection instead of adding partitions


@dataclass(frozen=True)
class AthenaSettings:
    output_location: str
    workgroup: str = "primary"
    repair: str = "add_partition"


@dataclass(frozen=True)
class ConvertSettings:
    """Knobs of the Parquet conversion (``ddb_lake.core.convert.converter.Tuning``)."""

    workers: int = 0  # parse processes; 0: one per core
    target_file_mb: int = 256
    row_group_rows: int = 256 * 1024
    compression: str = "zstd"

    def converter_options(self) -> dict[str, Any]:
        """The keyword arguments ``convert_export`` takes for these settings."""
        options: dict[str, Any] = {
            "target_file_bytes": self.target_file_mb << 20,
            "row_group_rows": self.row_group_rows,
            "compression": self.compression,
        }
        if self.workers:
            options["workers"] = self.workers
        return options


@dataclass(frozen=True)
class RetentionSettings:
    grace_hours: float = 24.0
    keep_last: int = 2


@dataclass(frozen=True)
class ValidationSettings:
    tolerance: int = 0
    key_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConnectionSettings:
    aws: str = "aws_default"
    gcp: str = "google_cloud_default"


@dataclass(frozen=True)
class TableConfig:
    """Everything one table's DAG needs."""

    name: str
    dynamodb: DynamoDBSource
    lake: LakeSettings
    glue: GlueSettings
    athena: AthenaSettings
    schedule: str = "@daily"
    start_date: datetime = datetime(2026, 1, 1, tzinfo=timezone.utc)
    catchup: bool = False
    export: ExportSettings = field(default_factory=ExportSettings)
    bigquery: BigQuerySettings | None = None
    numbers: str = "exact"
    convert: ConvertSettings = field(default_factory=ConvertSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    validation: ValidationSettings = field(default_factory=ValidationSettings)
    connections: ConnectionSettings = field(default_factory=ConnectionSettings)
    owner: str = "data-engineering"
    tags: tuple[str, ...] = ()
    retries: int = 3
    retry_delay_minutes: float = 5.0
    task_timeout_minutes: float = 120.0
    source_path: str = ""

    @property
    def glue_table(self) -> str:
        return self.glue.table or self.name

    @property
    def bigquery_table(self) -> str:
        return (self.bigquery.table or self.name) if self.bigquery else ""


_CHOICES: dict[str, tuple[str, ...]] = {
    "export.mode": EXPORT_MODES,
    "export.view_type": VIEW_TYPES,
    "glue.catalog_mode": CATALOG_MODES,
    "athena.repair": REPAIR_MODES,
    "numbers": NUMBER_MODES,
    "convert.compression": COMPRESSIONS,
    "bigquery.layout": BIGQUERY_LAYOUTS,
    "bigquery.transfer_method": BIGQUERY_TRANSFER_METHODS,
}


def load_table_config(path: str | Path) -> TableConfig:
    """Read and validate one table YAML file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TableConfigError(str(path), "<file>", f"not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise TableConfigError(str(path), "<file>", "expected a mapping of settings at the top level")
    raw.setdefault("name", path.stem)
    config = _build(TableConfig, raw, str(path), "")
    config = dataclasses.replace(config, source_path=str(path))
    _check(config, str(path))
    return config


def load_table_configs(folder: str | Path) -> list[TableConfig]:
    """Every ``*.yaml`` / ``*.yml`` in ``folder``, sorted by file name; table names must be unique."""
    configs = [load_table_config(p) for p in sorted(Path(folder).glob("*.y*ml"))]
    seen: dict[str, str] = {}
    for config in configs:
        if config.name in seen:
            raise TableConfigError(config.source_path, "name", f"{config.name!r} is also used by {seen[config.name]}")
        seen[config.name] = config.source_path
    return configs


def _build(cls: type, raw: Any, path: str, prefix: str) -> Any:
    if not isinstance(raw, dict):
        raise TableConfigError(path, prefix.rstrip(".") or "<file>", f"expected a mapping, got {type(raw).__name__}")
    hints = get_type_hints(cls)
    known = {f.name: f for f in fields(cls) if f.name != "source_path"}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise TableConfigError(path, prefix + unknown[0], f"unknown setting; known here: {', '.join(sorted(known))}")
    values = {}
    for name, f in known.items():
        dotted = prefix + name
        if name not in raw:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise TableConfigError(path, dotted, "required setting is missing")
            continue
        values[name] = _coerce(hints[name], raw[name], path, dotted)
    return cls(**values)


def _coerce(hint: Any, value: Any, path: str, dotted: str) -> Any:
    nested = _nested_dataclass(hint)
    if nested is not None:
        return None if value is None else _build(nested, value, path, dotted + ".")
    if hint is bool:
        if not isinstance(value, bool):
            raise TableConfigError(path, dotted, f"expected true or false, got {value!r}")
        return value
    if hint in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (hint is int and value != int(value)):
            raise TableConfigError(path, dotted, f"expected a number, got {value!r}")
        return hint(value)
    if hint is datetime:
        return _as_datetime(value, path, dotted)
    if hint == tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise TableConfigError(path, dotted, "expected a list of strings")
        return tuple(value)
    if not isinstance(value, str) or not value:
        raise TableConfigError(path, dotted, f"expected a non-empty string, got {value!r}")
    return value


def _nested_dataclass(hint: Any) -> type | None:
    for candidate in getattr(hint, "__args__", (hint,)):
        if dataclasses.is_dataclass(candidate):
            return candidate
    return None


def _as_datetime(value: Any, path: str, dotted: str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    raise TableConfigError(path, dotted, f"expected a date like 2026-11-01, got {value!r}")


def _check(config: TableConfig, path: str) -> None:
    if not NAME_PATTERN.match(config.name):
        raise TableConfigError(path, "name", f"{config.name!r} must match {NAME_PATTERN.pattern} (it names tables)")
    for dotted, choices in _CHOICES.items():
        value: Any = config
        for part in dotted.split("."):
            value = getattr(value, part, None)
        if value is not None and value not in choices:
            raise TableConfigError(path, dotted, f"{value!r} is not one of {', '.join(choices)}")
    if not config.athena.output_location.startswith("s3://"):
        raise TableConfigError(path, "athena.output_location", "must be an s3:// URL")
    if config.glue.catalog_mode == "crawler" and not config.glue.crawler_role:
        raise TableConfigError(path, "glue.crawler_role", "catalog_mode crawler needs an IAM role for the crawler")
    if config.retention.keep_last < 1:
        raise TableConfigError(path, "retention.keep_last", "must keep at least the current snapshot (>= 1)")
    if config.convert.target_file_mb < 1 or config.convert.row_group_rows < 1 or config.convert.workers < 0:
        raise TableConfigError(path, "convert", "target_file_mb and row_group_rows must be >= 1, workers >= 0")
    if config.bigquery is not None and config.bigquery.partition_expiration_days < 0:
        raise TableConfigError(path, "bigquery.partition_expiration_days", "must be >= 0 (0: never expire)")
    if config.export.poll_seconds < 1:
        raise TableConfigError(path, "export.poll_seconds", "must be at least 1 second")
    if config.validation.tolerance < 0:
        raise TableConfigError(path, "validation.tolerance", "must be >= 0")
