"""Console URLs of the operators' extra links, exact, from the values the tasks return."""

from __future__ import annotations

from ddb_lake.core import console_links as links


def test_s3_folder():
    assert links.s3_folder_url("s3://lake-b/lake/snapshots/orders/snapshot=20261122T000000Z/") == (
        "https://s3.console.aws.amazon.com/s3/buckets/lake-b?prefix=lake%2Fsnapshots%2Forders%2F"
        "snapshot%3D20261122T000000Z%2F&showversions=false")
    assert links.s3_folder_url("s3://lake-b/a/b") == (
        "https://s3.console.aws.amazon.com/s3/buckets/lake-b?prefix=a%2Fb%2F&showversions=false")
    assert links.s3_folder_url(None) == links.s3_folder_url("/local/folder") == ""


def test_dynamodb_export_takes_the_region_of_its_arn():
    arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/orders/export/01700000000000-abcd1234"
    assert links.dynamodb_export_url(arn) == (
        "https://console.aws.amazon.com/dynamodbv2/home?region=eu-west-1#export-details?exportArn="
        "arn%3Aaws%3Adynamodb%3Aeu-west-1%3A123456789012%3Atable%2Forders%2Fexport%2F01700000000000-abcd1234")
    assert links.dynamodb_export_url(None) == links.dynamodb_export_url("arn:aws:s3:::bucket") == ""


def test_glue_and_athena():
    assert links.glue_table_url("eu-west-1", "lake_db", "orders") == (
        "https://console.aws.amazon.com/glue/home?region=eu-west-1#/v2/data-catalog/tables/view/orders"
        "?database=lake_db")
    assert links.glue_table_url(None, "lake_db", "orders") == ""
    assert links.athena_query_url("eu-west-1", "0a1b2c3d-0000-4000-8000-000000000000") == (
        "https://console.aws.amazon.com/athena/home?region=eu-west-1#/query-editor/history/"
        "0a1b2c3d-0000-4000-8000-000000000000")
    assert links.athena_query_url("eu-west-1", None) == ""


def test_bigquery_table_and_job():
    assert links.bigquery_table_url("proj-1", "lake_ds", "orders$20261122") == (
        "https://console.cloud.google.com/bigquery?project=proj-1&ws=!1m5!1m4!4m3!1sproj-1!2slake_ds!3sorders")
    assert links.bigquery_table_url("proj-1", "lake_ds", "orders_20261122").endswith("!3sorders_20261122")
    assert links.bigquery_table_url(None, "lake_ds", "orders") == ""
    assert links.bigquery_job_url("proj-1", "ddb_lake_load_abc", "EU") == (
        "https://console.cloud.google.com/bigquery?project=proj-1&j=bq:proj-1%3AEU.ddb_lake_load_abc"
        "&page=queryresults")
    assert links.bigquery_job_url("proj-1", "ddb_lake_load_abc") == (
        "https://console.cloud.google.com/bigquery?project=proj-1&j=bq:proj-1%3Addb_lake_load_abc&page=queryresults")
    assert links.bigquery_job_url("proj-1", None) == ""
