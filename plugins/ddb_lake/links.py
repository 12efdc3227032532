"""Operator extra links: console buttons on a task's page, from the values the task returned (its XCom).

In Airflow 3 the worker resolves each link when the task finishes and stores the URL, so the buttons work without the
link classes on the api-server; they are registered anyway (provider info ``extra-links``, and the ``ddb_lake_links``
plugin for plugins-folder installs). URLs are built by :mod:`ddb_lake.core.console_links`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ddb_lake.compat import BaseOperatorLink, xcom_value
from ddb_lake.core import console_links


class _ResultLink(BaseOperatorLink):
    """A link built from the task's own return value; ``""`` (a disabled button) until the task returned one."""

    name: ClassVar[str] = ""

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        result = xcom_value(ti_key)
        return self.url(operator, result) if isinstance(result, dict) else ""

    def url(self, operator: Any, result: dict[str, Any]) -> str:
        raise NotImplementedError


class DynamoDBExportLink(_ResultLink):
    name = "DynamoDB export"

    def url(self, operator: Any, result: dict[str, Any]) -> str:
        return console_links.dynamodb_export_url(result.get("export_arn"))


class S3ExportFolderLink(_ResultLink):
    name = "S3 export folder"

    def url(self, operator: Any, result: dict[str, Any]) -> str:
        return console_links.s3_folder_url(result.get("export_folder"))


class S3SnapshotLink(_ResultLink):
    name = "S3 snapshot"

    def url(self, operator: Any, result: dict[str, Any]) -> str:
        return console_links.s3_folder_url(result.get("snapshot_prefix"))


class GlueTableLink(_ResultLink):
    name = "Glue table"

    def url(self, operator: Any, result: dict[str, Any]) -> str:
        region = getattr(operator, "region_name", None)
        return console_links.glue_table_url(region, result.get("database"), result.get("table"))


class AthenaQueryLink(_ResultLink):
    name = "Athena query"

    def url(self, operator: Any, result: dict[str, Any]) -> str:
        return console_links.athena_query_url(getattr(operator, "region_name", None), result.get("query_execution_id"))


class BigQueryTableLink(_ResultLink):
    name = "BigQuery table"

    def url(self, operator: Any, result: dict[str, Any]) -> str:
        return console_links.bigquery_table_url(result.get("project_id"), result.get("dataset"), result.get("table_id"))


class BigQueryJobLink(_ResultLink):
    name = "BigQuery job"

    def url(self, operator: Any, result: dict[str, Any]) -> str:
        return console_links.bigquery_job_url(result.get("project_id"), result.get("job_id"),
                                              getattr(operator, "location", None))


EXTRA_LINKS = (DynamoDBExportLink, S3ExportFolderLink, S3SnapshotLink, GlueTableLink, AthenaQueryLink,
               BigQueryTableLink, BigQueryJobLink)
