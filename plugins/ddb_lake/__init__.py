"""ddb-lake: mirror Amazon DynamoDB tables into an S3 data lake and Google BigQuery.

Importing this package imports nothing from Airflow: ``ddb_lake.core`` is the pure core, and the Airflow parts
(``hooks``, ``operators``, ``sensors``, ``triggers``, ``destinations``, ``dag_factory``) import Airflow only when
imported.
"""

from __future__ import annotations

__version__ = "0.1.0"

_AWS_EXPORT = "Amazon DynamoDB export"
_LAKE = "Amazon S3 lake (Glue, Athena)"
_BIGQUERY = "Google BigQuery"
_PIPELINE = "ddb-lake pipeline"
_ICEBERG = "Apache Iceberg (Glue catalog)"

_BQ = "destinations.bigquery"
_HOOKS = {
    _AWS_EXPORT: ["hooks.dynamodb_export", "hooks.lake_storage"],
    _LAKE: ["hooks.lake_catalog", "hooks.snapshot_counts"],
    _ICEBERG: ["hooks.iceberg_catalog", "hooks.iceberg_merge", "hooks.iceberg_deletes",
               "hooks.iceberg_maintenance", "hooks.iceberg_athena", "hooks.iceberg_athena_merge",
               "hooks.iceberg_snapshot_files"],
    _BIGQUERY: [f"{_BQ}.transfer_hook", f"{_BQ}.storage_transfer_hook", f"{_BQ}.load_hook", f"{_BQ}.staging_hook"],
}
_OPERATORS = {
    _AWS_EXPORT: ["operators.dynamodb_export", "operators.export_to_parquet", "operators.export_slices",
                  "operators.spark_convert"],
    _LAKE: ["operators.glue_catalog", "operators.athena_partitions", "operators.snapshot_publish",
            "operators.lake_lifecycle", "operators.schema_contract"],
    _ICEBERG: ["operators.iceberg_table"],
    _BIGQUERY: [f"{_BQ}.transfer_operator", f"{_BQ}.load_operator", f"{_BQ}.staging_lifecycle_operator",
                f"{_BQ}.publish_operator"],
    _PIPELINE: ["operators.run_plan", "operators.row_count_validation", "operators.run_report"],
}
_SENSORS = {_AWS_EXPORT: ["sensors.dynamodb_export"]}
_TRIGGERS = {
    _AWS_EXPORT: ["triggers.dynamodb_export"],
    _BIGQUERY: [f"{_BQ}.job_trigger"],
}
_HOOKS[_AWS_EXPORT].append("hooks.dynamodb_scan")  # export.mode scan (docs/export-modes.md)
_OPERATORS[_AWS_EXPORT].append("operators.dynamodb_scan_export")
_CDC = "Amazon DynamoDB Streams change capture"
_HOOKS[_CDC] = ["hooks.cdc_files"]
_OPERATORS[_CDC] = ["operators.cdc_merge"]
_HOOKS[_BIGQUERY].append(f"{_BQ}.cdc_hook")  # cdc tables in BigQuery (docs/cdc.md)
_OPERATORS[_BIGQUERY].append(f"{_BQ}.cdc_operator")
_EXTRA_LINKS = ["DynamoDBExportLink", "S3ExportFolderLink", "S3SnapshotLink", "GlueTableLink", "AthenaQueryLink",
                "BigQueryTableLink", "BigQueryJobLink"]


def _entries(modules: dict[str, list[str]]) -> list[dict]:
    return [
        {"integration-name": name, "python-modules": [f"ddb_lake.{m}" for m in mods]}
        for name, mods in modules.items()
    ]


def get_provider_info() -> dict:
    """Return the provider metadata Airflow reads through the ``apache_airflow_provider`` entry point."""
    return {
        "package-name": "ddb-lake",
        "name": "ddb-lake",
        "description": "Mirror Amazon DynamoDB tables into an S3 lake (Parquet, Glue, Athena) and Google BigQuery.",
        "versions": [__version__],
        "hooks": _entries(_HOOKS),
        "operators": _entries(_OPERATORS),
        "sensors": _entries(_SENSORS),
        "triggers": _entries(_TRIGGERS),
        # ddb-lake reuses the stock ``aws`` and ``google_cloud_platform`` connection types; it adds none of its own.
        "connection-types": [],
        "extra-links": [f"ddb_lake.links.{name}" for name in _EXTRA_LINKS],
    }
