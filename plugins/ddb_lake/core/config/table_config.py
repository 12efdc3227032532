"""One table's pipeline settings, read from ``include/tables/<name>.yaml`` and validated strictly.

A key that is not known is an error (a typo must not silently fall back to a default); every error names the
file and the dotted field. Pure: imports no Airflow, so the same validation runs in tests and CI.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from ddb_lake.core.config.bucket_names import s3_bucket_problem
from ddb_lake.core.config.cron_schedule import cdc_schedule_problem, cron_problem, incremental_schedule_problem
from ddb_lake.core.errors import ConfigError
from ddb_lake.core.export.scan_settings import ScanSettings, scan_problems
from ddb_lake.core.iceberg.bigquery_mirror import mirror_layout_problem
from ddb_lake.core.lake.layout import join_key
from ddb_lake.core.schema.pin_spec import parse_pin
from ddb_lake.destinations.bigquery.config import (
    BIGQUERY_LAYOUTS,
    BIGQUERY_TRANSFER_METHODS,
    BigQuerySettings,
    bigquery_problems,
)

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
EXPORT_MODES = ("full", "incremental", "both", "scan")
VIEW_TYPES = ("NEW_AND_OLD_IMAGES", "NEW_IMAGE")
CATALOG_MODES = ("api", "crawler")
REPAIR_MODES = ("add_partition", "msck", "none")
NUMBER_MODES = ("exact", "float")
COMPRESSIONS = ("zstd", "snappy", "gzip", "none")
CONVERT_ENGINES = ("worker", "mapped", "spark", "auto")
LAKE_FORMATS = ("parquet", "iceberg")
MERGE_ENGINES = ("auto", "worker", "athena")


class TableConfigError(ConfigError, ValueError):
    """A table YAML file is invalid; the message names the file and the field."""

    def __init__(self, path: str, field_name: str, problem: str) -> None:
        self.path = path
        self.field_name = field_name
        self.problem = problem
        super().__init__(f"{path}: {field_name}: {problem}")


class TableFolderError(TableConfigError):
    """Several table files are invalid or clash: one line per problem, each naming its file and field."""

    def __init__(self, errors: list[TableConfigError]) -> None:
        self.errors = errors
        first = errors[0]
        self.path, self.field_name, self.problem = first.path, first.field_name, first.problem
        ConfigError.__init__(self, "\n".join(str(e) for e in errors))


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
    scan: ScanSettings = field(default_factory=ScanSettings)  # export.mode scan: docs/export-modes.md
    max_wait_minutes: float = 240.0  # how long the export task waits for the export, whatever poll_seconds is


@dataclass(frozen=True)
class LakeSettings:
    bucket: str
    prefix: str = "ddb-lake"
    allow_rollback: bool = False  # publishing an older interval moves the current table back (default: keep newer)
    format: str = "parquet"  # parquet: dated snapshots + current table; iceberg: one Iceberg table merged from changes


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
    memory_mb: int = 0  # memory budget of the conversion (process tree); 0: the converter's 1024
    work_dir: str = ""  # local folder for the conversion's staging files; "": the system temp folder
    engine: str = "auto"  # auto (unset): slices chosen from the export's size; worker: one task; mapped; spark
    slices: int = 4  # engine mapped: how many slices (mapped tasks) the data files are split into; auto: the most
    spark_application_id: str = ""  # engine spark: the EMR Serverless application (Spark)
    spark_role_arn: str = ""  # engine spark: the job runtime role (reads the export, writes the lake)
    spark_code_url: str = ""  # engine spark: s3:// folder holding scripts/spark_package.py's output

    def converter_options(self) -> dict[str, Any]:
        """The keyword arguments ``convert_export`` takes for these settings."""
        options: dict[str, Any] = {
            "target_file_bytes": self.target_file_mb << 20,
            "row_group_rows": self.row_group_rows,
            "compression": self.compression,
        }
        if self.workers:
            options["workers"] = self.workers
        if self.memory_mb:
            options["memory_budget_bytes"] = self.memory_mb << 20
        if self.work_dir:
            options["work_dir"] = self.work_dir
        return options


@dataclass(frozen=True)
class RetentionSettings:
    grace_hours: float = 24.0
    keep_last: int = 2
    raw_export_days: int | None = 7  # S3 lifecycle: raw exports expire after this many days (null: kept)
    changes_days: int | None = None  # S3 lifecycle: change files of incremental runs (null: kept)


@dataclass(frozen=True)
class ValidationSettings:
    tolerance: int = 0
    key_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class IcebergSettings:
    """``lake.format: iceberg`` only: the merge engine and the table's maintenance (docs/iceberg.md)."""

    merge_engine: str = "auto"  # auto: athena from athena_min_rows rows on, else worker
    athena_min_rows: int = 50_000_000
    compact_every_runs: int = 24  # compaction after every Nth merge (0: never)
    small_file_mb: int = 32  # data files below this size (or carrying delete files) are compacted
    verify_full_every_runs: int = 24  # every Nth merged window is checked against a full export (0: never)


@dataclass(frozen=True)
class ConnectionSettings:
    aws: str = "aws_default"
    gcp: str = "google_cloud_default"


@dataclass(frozen=True)
class CdcSettings:
    """DynamoDB Streams change capture (docs/cdc.md): a CDC DAG merges the stream handler's change files."""

    schedule: str = "*/2 * * * *"  # every 1 to 5 minutes
    settle_seconds: int = 60  # files written in the last settle_seconds wait for the next run
    cleanup_grace_hours: float = 24.0  # merged change files are deleted this long after they were written


@dataclass(frozen=True)
class AirflowSettings:
    """Where and how Airflow runs the table's tasks, and who hears of a failure (see docs/table-settings.md)."""

    pool: str = ""  # "": Airflow's default_pool
    queue: str = ""  # "": the executor's default queue
    priority_weight: int = 1
    email: tuple[str, ...] = ()  # failure (and, with email_on_retry, retry) mails; needs Airflow's SMTP settings
    email_on_retry: bool = False
    on_failure_callback: str = ""  # dotted path of a callable or notifier instance, e.g. my_alerts.notify_slack
    on_retry_callback: str = ""
    run_timeout_minutes: float | None = None  # a run still going after this fails (dagrun_timeout); null: 4x tasks


@dataclass(frozen=True)
class TableConfig:
    """Everything one table's DAG needs."""

    name: str
    dynamodb: DynamoDBSource
    lake: LakeSettings
    glue: GlueSettings
    athena: AthenaSettings
    schedule: str = "@daily"
    start_date: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    catchup: bool = False
    export: ExportSettings = field(default_factory=ExportSettings)
    bigquery: BigQuerySettings | None = None
    numbers: str = "exact"
    columns: dict[str, str] = field(default_factory=dict)
    convert: ConvertSettings = field(default_factory=ConvertSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    validation: ValidationSettings = field(default_factory=ValidationSettings)
    connections: ConnectionSettings = field(default_factory=ConnectionSettings)
    iceberg: IcebergSettings = field(default_factory=IcebergSettings)
    owner: str = "data-engineering"
    tags: tuple[str, ...] = ()
    retries: int = 3
    retry_delay_minutes: float = 5.0
    task_timeout_minutes: float = 120.0
    airflow: AirflowSettings = field(default_factory=AirflowSettings)
    source_path: str = ""
    cdc: CdcSettings | None = None

    @property
    def glue_table(self) -> str:
        return self.glue.table or self.name

    @property
    def bigquery_table(self) -> str:
        return (self.bigquery.table or self.name) if self.bigquery else ""


_CHOICES: dict[str, tuple[str, ...]] = {
    "export.mode": EXPORT_MODES,
    "export.view_type": VIEW_TYPES,
    "lake.format": LAKE_FORMATS,
    "iceberg.merge_engine": MERGE_ENGINES,
    "glue.catalog_mode": CATALOG_MODES,
    "athena.repair": REPAIR_MODES,
    "numbers": NUMBER_MODES,
    "convert.compression": COMPRESSIONS,
    "bigquery.layout": BIGQUERY_LAYOUTS,
    "bigquery.transfer_method": BIGQUERY_TRANSFER_METHODS,
    "convert.engine": CONVERT_ENGINES,
}


def load_table_config(path: str | Path) -> TableConfig:
    """Read and validate one table YAML file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TableConfigError(str(path), "<file>", f"not valid YAML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise TableConfigError(str(path), "<file>", f"cannot be read: {exc}") from exc
    if not isinstance(raw, dict):
        raise TableConfigError(str(path), "<file>", "expected a mapping of settings at the top level")
    raw.setdefault("name", path.stem)
    config = _build(TableConfig, raw, str(path), "")
    config = dataclasses.replace(config, source_path=str(path))
    config = _with_default_engine(config, raw)
    _check(config, str(path))
    return config


@dataclass(frozen=True)
class TableFolder:
    """The table files of a folder: the valid ones, and one error (or more) per file that is not."""

    configs: tuple[TableConfig, ...]
    errors: tuple[TableConfigError, ...]


def read_table_folder(folder: str | Path) -> TableFolder:
    """Every ``*.yaml`` / ``*.yml`` in ``folder``, sorted by file name; a bad file does not stop the others.

    Files that clash (see :func:`folder_clashes`) are all set aside: keeping the first by file name would let a new
    file that sorts first take over an existing table's DynamoDB table, lake prefix or Glue/BigQuery tables.
    """
    configs: list[TableConfig] = []
    errors: list[TableConfigError] = []
    for path in sorted(Path(folder).glob("*.y*ml")):
        try:
            configs.append(load_table_config(path))
        except TableConfigError as exc:
            errors.append(exc)
    clashes = folder_clashes(configs)
    clashing = {e.path for e in clashes}
    return TableFolder(
        configs=tuple(c for c in configs if c.source_path not in clashing),
        errors=tuple(sorted([*errors, *clashes], key=lambda e: e.path)),
    )


def load_table_configs(folder: str | Path) -> list[TableConfig]:
    """Every table file of ``folder``, all valid and not clashing; else a :class:`TableFolderError` listing all."""
    found = read_table_folder(folder)
    if found.errors:
        raise TableFolderError(list(found.errors))
    return list(found.configs)


def table_claims(config: TableConfig) -> list[tuple[str, str, str]]:
    """What a table owns and no other file may share: ``(field, what, key)``; lake keys end in ``/``."""
    database = config.glue.database.lower()
    claims = [
        ("name", "table name (DAG id)", config.name),
        ("dynamodb.table_name", "DynamoDB table", f"{config.dynamodb.table_name} ({config.dynamodb.region})"),
    ]
    for area in ("exports", "snapshots", "changes"):
        key = join_key(config.lake.prefix, area, config.glue_table)
        claims.append(("lake.prefix", "lake location", f"s3://{config.lake.bucket}/{key}/"))
    for suffix in ("", "_snapshots", "_changes"):
        claims.append(("glue.table", "Glue table", f"{database}.{config.glue_table.lower()}{suffix}"))
    if config.bigquery is not None:
        bq = config.bigquery
        claims.append(("bigquery.table", "BigQuery table", f"{bq.project}.{bq.dataset}.{config.bigquery_table}"))
    return claims


def folder_clashes(configs: list[TableConfig]) -> list[TableConfigError]:
    """Both sides of every clash: a name, DynamoDB table, lake location (equal or nested) or Glue/BigQuery table
    that two files share. Two tables writing one place mix their items into one history."""
    owners: dict[str, list[tuple[str, str, TableConfig]]] = {}
    errors: dict[tuple[str, str], TableConfigError] = {}
    for config in configs:
        for field_name, what, key in table_claims(config):
            for other_field, other_key, other in owners.get(what, []):
                if other.source_path == config.source_path or not _overlaps(what, key, other_key):
                    continue
                for mine, theirs, (f, k), (of, ok) in (
                    (config, other, (field_name, key), (other_field, other_key)),
                    (other, config, (other_field, other_key), (field_name, key)),
                ):
                    problem = (f"{k!r} is also used by {theirs.source_path} ({of}: {ok!r}); two tables must not "
                               f"share a {what} (one table's items would land in the other's history): change {f} "
                               "in one of the files")
                    errors.setdefault((mine.source_path, f), TableConfigError(mine.source_path, f, problem))
            owners.setdefault(what, []).append((field_name, key, config))
    return list(errors.values())


def _overlaps(what: str, key: str, other_key: str) -> bool:
    if what == "lake location":
        return key.startswith(other_key) or other_key.startswith(key)
    return key == other_key


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
    if hint == int | None:
        return None if value is None else _coerce(int, value, path, dotted)
    if hint == float | None:
        return None if value is None else _coerce(float, value, path, dotted)
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
    if hint == dict[str, str]:
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise TableConfigError(path, dotted, "expected a mapping of attribute name to type, e.g. "
                                                 "{price: \"decimal(18,4)\", note: string}")
        return dict(value)
    if hint == dict[str, Any]:  # export.scan.expression_attribute_values: typed values, checked by scan_problems
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise TableConfigError(path, dotted, "expected a mapping of names to typed values, e.g. "
                                                 "{\":s\": {S: PAID}}")
        return dict(value)
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
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):  # a quoted date ('2026-11-01') or date-time ('2026-11-01T06:00:00Z')
        try:
            return _as_datetime(datetime.fromisoformat(value.strip()), path, dotted)
        except ValueError:
            pass
    raise TableConfigError(path, dotted, f"expected a date like 2026-11-01, got {value!r}")


def _check(config: TableConfig, path: str) -> None:
    for field_name, problem in table_problems(config):
        raise TableConfigError(path, field_name, problem)


def table_problems(config: TableConfig) -> list[tuple[str, str]]:
    """Every ``(dotted field, problem)`` of one table's settings, in the order of the file's sections."""
    problems: list[tuple[str, str | None]] = []
    if not NAME_PATTERN.match(config.name):
        problems.append(("name", f"{config.name!r} must match {NAME_PATTERN.pattern} (it names tables)"))
    problems += [("schedule", cron_problem(config.schedule))]
    for dotted, choices in _CHOICES.items():
        value: Any = config
        for part in dotted.split("."):
            value = getattr(value, part, None)
        if value is not None and value not in choices:
            problems.append((dotted, f"{value!r} is not one of {', '.join(choices)}"))
    problems += [
        ("export.incremental_schedule", incremental_schedule_problem(config.export.incremental_schedule)),
        ("export.poll_seconds", "must be at least 1 second" if config.export.poll_seconds < 1 else None),
        ("lake.bucket", s3_bucket_problem(config.lake.bucket)),
        ("lake.format", _iceberg_problem(config)),
        *_iceberg_setting_problems(config.iceberg),
        *_athena_problems(config.athena),
        ("glue.crawler_role", "catalog_mode crawler needs an IAM role for the crawler"
         if config.glue.catalog_mode == "crawler" and not config.glue.crawler_role else None),
        *_attempt_catalog_problems(config.glue),
        *_bound_problems(config),
        *_key_column_problems(config.validation.key_columns),
        *_pin_problems(config.columns),
        *(bigquery_problems(config.bigquery) if config.bigquery is not None else []),
        *scan_problems(config.export.scan, config.export.mode),
        *(_cdc_problems(config) if config.cdc is not None else []),
        ("bigquery.layout", mirror_layout_problem(config.lake.format, config.bigquery.layout)
         if config.bigquery is not None else None),  # the Iceberg table's BigQuery mirror (docs/iceberg.md)
        *_airflow_problems(config),
    ]
    return [(f, p) for f, p in problems if p]


def _attempt_catalog_problems(glue: GlueSettings) -> list[tuple[str, str | None]]:
    """Catalog settings that cannot point at attempt folders (see docs/lake-catalog.md, "Catalog modes")."""
    return [
        ("glue.partition_projection", "true is refused: projection reads the fixed folder snapshot=<stamp>/, but each "
         "convert try writes its own folder .../_attempts/snapshot=<stamp>/attempt=<id>/ and the catalog points the "
         "snapshot's partition at it once complete. Fix: remove the key (or set false); partitions are then added "
         "by the catalog task" if glue.partition_projection else None),
        ("glue.catalog_mode", "crawler is refused: a crawler infers partitions from the folders it finds and cannot "
         "tell which attempt folder of a snapshot is the complete one to read. Fix: catalog_mode: api (the catalog "
         "task points each partition at the attempt convert wrote)" if glue.catalog_mode == "crawler" else None),
    ]


def _iceberg_problem(config: TableConfig) -> str | None:
    """An Iceberg table is kept by the incremental DAG alone (it bootstraps itself from a full export)."""
    if config.lake.format != "iceberg" or config.export.mode == "incremental":
        return None
    return (f"iceberg needs export.mode incremental (it is {config.export.mode!r}): the incremental DAG bootstraps the "
            "Iceberg table from a full export and merges every window after it; a full-mode DAG would publish "
            "Parquet snapshots under the same Glue table name. Set export.mode: incremental")


def _iceberg_setting_problems(iceberg: IcebergSettings) -> list[tuple[str, str | None]]:
    return [
        ("iceberg.athena_min_rows", "must be >= 0" if iceberg.athena_min_rows < 0 else None),
        ("iceberg.compact_every_runs", "must be >= 0 (0: never compact)" if iceberg.compact_every_runs < 0 else None),
        ("iceberg.small_file_mb", "must be >= 1" if iceberg.small_file_mb < 1 else None),
        ("iceberg.verify_full_every_runs", "must be >= 0 (0: never check against a full export)"
         if iceberg.verify_full_every_runs < 0 else None),
    ]


def _athena_problems(athena: AthenaSettings) -> list[tuple[str, str | None]]:
    if not athena.output_location.startswith("s3://"):
        return [("athena.output_location", "must be an s3:// URL")]
    bucket = athena.output_location[len("s3://"):].split("/", 1)[0]
    return [("athena.output_location", s3_bucket_problem(bucket))]


def _bound_problems(config: TableConfig) -> list[tuple[str, str | None]]:
    retention, convert = config.retention, config.convert
    return [
        ("convert", "target_file_mb and row_group_rows must be >= 1, workers >= 0"
         if convert.target_file_mb < 1 or convert.row_group_rows < 1 or convert.workers < 0 else None),
        ("convert.memory_mb", f"{convert.memory_mb} must be 0 (the default 1024) or at least 512: one worker and the "
         "converting process need about 512 MB" if 0 < convert.memory_mb < 512 or convert.memory_mb < 0 else None),
        ("convert.slices", f"{convert.slices} must be between 1 and 1024" if not 1 <= convert.slices <= 1024 else None),
        ("convert.engine", f"{convert.engine} converts Parquet snapshots; lake.format iceberg converts in one task "
         "(use worker)" if convert.engine != "worker" and config.lake.format == "iceberg" else None),
        ("convert.spark_code_url", "engine spark needs spark_application_id, spark_role_arn and spark_code_url (an "
         "s3:// folder with scripts/spark_package.py's output)" if convert.engine == "spark" and not (
             convert.spark_application_id and convert.spark_role_arn and convert.spark_code_url.startswith("s3://"))
         else None),
        ("retention.grace_hours", f"{retention.grace_hours:g} must be > 0 and at least the longest query on the "
         "table: a reader that planned before a publish reads the older snapshot's files for that long"
         if retention.grace_hours <= 0 else None),
        ("retention.keep_last", "must keep at least the current snapshot (>= 1)" if retention.keep_last < 1 else None),
        *[(f"retention.{name}", f"{days} must be >= 1 (or null to keep them)")
          for name, days in (("raw_export_days", retention.raw_export_days), ("changes_days", retention.changes_days))
          if days is not None and days < 1],
        ("validation.tolerance", "must be >= 0" if config.validation.tolerance < 0 else None),
        ("retries", f"{config.retries} must be >= 0" if config.retries < 0 else None),
        ("retry_delay_minutes", f"{config.retry_delay_minutes:g} must be > 0"
         if config.retry_delay_minutes <= 0 else None),
        ("task_timeout_minutes", f"{config.task_timeout_minutes:g} must be > 0"
         if config.task_timeout_minutes <= 0 else None),
    ]


def _pin_problems(columns: dict[str, str]) -> list[tuple[str, str | None]]:
    problems: list[tuple[str, str | None]] = []
    for attribute, text in columns.items():
        try:
            parse_pin(text)
        except ValueError as exc:
            problems.append((f"columns.{attribute}", str(exc)))
    return problems


def _key_column_problems(columns: tuple[str, ...]) -> list[tuple[str, str | None]]:
    blank = [c for c in columns if not c.strip()]
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    return [
        ("validation.key_columns", "column names must be non-empty" if blank else None),
        ("validation.key_columns", f"{', '.join(repeated)} listed more than once" if repeated else None),
    ]


def _cdc_problems(config: TableConfig) -> list[tuple[str, str | None]]:
    """The ``cdc:`` section (docs/cdc.md): an Iceberg table, a 1-5 minute schedule, positive waits."""
    cdc = config.cdc
    assert cdc is not None
    return [
        ("cdc", f"needs lake.format: iceberg (it is {config.lake.format!r}): the change files are merged into the "
         "Iceberg current-state table. Set lake.format: iceberg" if config.lake.format != "iceberg" else None),
        ("cdc.schedule", cdc_schedule_problem(cdc.schedule)),
        ("cdc.settle_seconds", f"{cdc.settle_seconds} must be >= 1 and above the handler's CDC_MAX_WRITE_SECONDS "
         "(default 30)" if cdc.settle_seconds < 1 else None),
        ("cdc.cleanup_grace_hours", f"{cdc.cleanup_grace_hours:g} must be > 0"
         if cdc.cleanup_grace_hours <= 0 else None),
    ]


DOTTED_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _airflow_problems(config: TableConfig) -> list[tuple[str, str | None]]:
    """The ``airflow`` section (pool, queue, priority, alerting, run timeout) and the export wait cap."""
    settings, export = config.airflow, config.export
    problems: list[tuple[str, str | None]] = [
        ("export.max_wait_minutes", f"{export.max_wait_minutes:g} must be at least one poll "
         f"(export.poll_seconds {export.poll_seconds} s)" if export.max_wait_minutes * 60 < export.poll_seconds
         else None),
        ("airflow.priority_weight", f"{settings.priority_weight} must be >= 1"
         if settings.priority_weight < 1 else None),
        ("airflow.run_timeout_minutes", f"{settings.run_timeout_minutes:g} must be > 0"
         if settings.run_timeout_minutes is not None and settings.run_timeout_minutes <= 0 else None),
        *[("airflow.email", f"{address!r} is not an e-mail address") for address in settings.email
          if not EMAIL.match(address)],
    ]
    for name in ("on_failure_callback", "on_retry_callback"):
        target = getattr(settings, name)
        if target and not DOTTED_PATH.match(target):
            problems.append((f"airflow.{name}", f"{target!r} must be a dotted path like my_alerts.notify_slack "
                                                "(a module on the DAG processor's and workers' path, then the name)"))
    return problems


def default_convert_engine(lake_format: str) -> str:
    """``convert.engine`` when the YAML leaves it unset: ``auto`` (size-based) for Parquet snapshots; ``worker`` for
    ``lake.format: iceberg``, whose windows convert in one task of their own (docs/scaling.md)."""
    return "worker" if lake_format == "iceberg" else "auto"


def _with_default_engine(config: TableConfig, raw: dict) -> TableConfig:
    """The table with its unset ``convert.engine`` resolved by :func:`default_convert_engine`."""
    section = raw.get("convert")
    if isinstance(section, dict) and "engine" in section:
        return config
    engine = default_convert_engine(config.lake.format)
    return dataclasses.replace(config, convert=dataclasses.replace(config.convert, engine=engine))
