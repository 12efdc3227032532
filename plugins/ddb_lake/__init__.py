"""ddb-lake: mirror Amazon DynamoDB tables into an S3 data lake and Google BigQuery.

Importing this package imports nothing from Airflow: ``ddb_lake.core`` is the pure conversion core,
and the Airflow parts (``hooks``, ``operators``, ``sensors``, ``triggers``) import Airflow only when imported.
"""

from __future__ import annotations

__version__ = "0.1.0"

_PACKAGE = "ddb_lake"


def get_provider_info() -> dict:
    """Return the provider metadata Airflow reads through the ``apache_airflow_provider`` entry point."""
    return {
        "package-name": "ddb-lake",
        "name": "ddb-lake",
        "description": "Mirror Amazon DynamoDB tables into an S3 lake (Parquet, Glue, Athena) and Google BigQuery.",
        "versions": [__version__],
        "hooks": [
            {"integration-name": "Amazon DynamoDB export", "python-modules": [f"{_PACKAGE}.hooks.dynamodb_export"]},
        ],
        "operators": [
            {"integration-name": "Amazon DynamoDB export", "python-modules": [f"{_PACKAGE}.operators.dynamodb_export"]},
        ],
        "sensors": [
            {"integration-name": "Amazon DynamoDB export", "python-modules": [f"{_PACKAGE}.sensors.dynamodb_export"]},
        ],
        "triggers": [
            {"integration-name": "Amazon DynamoDB export", "python-modules": [f"{_PACKAGE}.triggers.dynamodb_export"]},
        ],
        # ddb-lake reuses the stock ``aws`` and ``google_cloud_platform`` connection types; it adds none of its own.
        "connection-types": [],
    }
