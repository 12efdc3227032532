"""Console URLs of what a run touched, built from the values its tasks return (the operators' extra links).

Pure: imports no Airflow. Each function returns ``""`` when a value it needs is missing (the task has not got that
far), which Airflow shows as a disabled button.
"""

from __future__ import annotations

from urllib.parse import quote

AWS_CONSOLE = "https://console.aws.amazon.com"
GCP_CONSOLE = "https://console.cloud.google.com"


def _q(value: str) -> str:
    return quote(value, safe="")


def s3_folder_url(url: str | None) -> str:
    """``s3://bucket/a/b/`` → the S3 console's view of that folder."""
    if not url or not url.startswith("s3://"):
        return ""
    bucket, _, key = url[len("s3://"):].partition("/")
    prefix = key if not key or key.endswith("/") else key + "/"
    return f"https://s3.console.aws.amazon.com/s3/buckets/{_q(bucket)}?prefix={_q(prefix)}&showversions=false"


def dynamodb_export_url(export_arn: str | None) -> str:
    """The export's page in the DynamoDB console; the region is the ARN's (``arn:aws:dynamodb:<region>:…``)."""
    parts = (export_arn or "").split(":")
    if len(parts) < 6 or parts[2] != "dynamodb" or not parts[3]:
        return ""
    region = parts[3]
    return f"{AWS_CONSOLE}/dynamodbv2/home?region={region}#export-details?exportArn={_q(export_arn or '')}"


def glue_table_url(region: str | None, database: str | None, table: str | None) -> str:
    if not (region and database and table):
        return ""
    return f"{AWS_CONSOLE}/glue/home?region={region}#/v2/data-catalog/tables/view/{_q(table)}?database={_q(database)}"


def athena_query_url(region: str | None, query_execution_id: str | None) -> str:
    """The query in Athena's history (as the amazon provider's ``AthenaQueryResultsLink``)."""
    if not (region and query_execution_id):
        return ""
    return f"{AWS_CONSOLE}/athena/home?region={region}#/query-editor/history/{_q(query_execution_id)}"


def bigquery_table_url(project: str | None, dataset: str | None, table: str | None) -> str:
    """The table in the BigQuery console; a ``$YYYYMMDD`` partition decorator is dropped (the console shows tables)."""
    table = (table or "").split("$")[0]
    if not (project and dataset and table):
        return ""
    return f"{GCP_CONSOLE}/bigquery?project={_q(project)}&ws=!1m5!1m4!4m3!1s{_q(project)}!2s{_q(dataset)}!3s{_q(table)}"


def bigquery_job_url(project: str | None, job_id: str | None, location: str | None = None) -> str:
    """The job's details in the BigQuery console (as the google provider's ``BigQueryConsoleLink``)."""
    if not (project and job_id):
        return ""
    job = f"{project}:{location}.{job_id}" if location else f"{project}:{job_id}"
    return f"{GCP_CONSOLE}/bigquery?project={_q(project)}&j=bq:{_q(job)}&page=queryresults"
