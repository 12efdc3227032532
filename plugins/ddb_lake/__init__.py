"""ddb-lake: mirror Amazon DynamoDB tables into an S3 data lake and Google BigQuery.

Importing this package imports nothing from Airflow: ``ddb_lake.core`` is the pure conversion core,
and the Airflow parts (``hooks``, ``operators``, ``sensors``, ``triggers``) import Airflow only when imported.
"""

from __future__ import annotations

__version__ = "0.1.0"

_AWS_EXPORT = "Amazon DynamoDB export"
_LAKE = "Amazon S3 lake (Glue, Athena)"
_BIGQUERY = "Google BigQuery"
_PIPELINE = "ddb-lake pipeline"

_HOOKS = {
    _AWS_EXPORT: ["dynamodb_export", "lake_storage"],
    _LAKE: ["lake_catalog"],
    _BIGQUERY: ["snapshot_transfer", "storage_transfer", "bigquery_load", "snapshot_counts"],
}
_OPERATORS = {
    _AWS_EXPORT: ["dynamodb_export", "export_to_parquet"],
    _LAKE: ["glue_catalog", "athena_partitions", "snapshot_publish"],
    _BIGQUERY: ["snapshot_transfer", "bigquery_load", "row_count_validation"],
    _PIPELINE: ["run_report"],
}
_SENSORS = {_AWS_EXPORT: ["dynamodb_export"]}
_TRIGGERS = {_AWS_EXPORT: ["dynamodb_export"], _LAKE: ["glue_crawler"], _BIGQUERY: ["bigquery_job"]}


def _entries(part: str, modules: dict[str, list[str]]) -> list[dict]:
    return [
        {"integration-name": name, "python-modules": [f"ddb_lake.{part}.{m}" for m in mods]}
        for name, mods in modules.items()
    ]


def get_provider_info() -> dict:
    """Return the provider metadata Airflow reads through the ``apache_airflow_provider`` entry point."""
    return {
        "package-name": "ddb-lake",
        "name": "ddb-lake",
        "description": "Mirror Amazon DynamoDB tables into an S3 lake (Parquet, Glue, Athena) and Google BigQuery.",
        "versions": [__version__],
        "hooks": _entries("hooks", _HOOKS),
        "operators": _entries("operators", _OPERATORS),
        "sensors": _entries("sensors", _SENSORS),
        "triggers": _entries("triggers", _TRIGGERS),
        # ddb-lake reuses the stock ``aws`` and ``google_cloud_platform`` connection types; it adds none of its own.
        "connection-types": [],
    }
