"""The Glue catalog as a pyiceberg catalog, reached through an Airflow AWS connection (credentials, endpoints)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook


class IcebergCatalogHook(AwsBaseHook):
    """pyiceberg's ``GlueCatalog`` with the connection's credentials, region and per-service endpoints.

    The catalog's FileIO reads and writes the table's files in S3 with the same credentials (``s3.*`` properties).
    Built when first asked for, never at construction.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "glue"
        super().__init__(*args, **kwargs)

    def catalog_properties(self) -> dict[str, str]:
        """pyiceberg catalog properties for this connection (``glue.*`` and ``s3.*``)."""
        region = self.region_name or self.conn_config.region_name or "us-east-1"
        credentials = self.get_credentials(region_name=region)
        props = {"type": "glue", "glue.region": region, "s3.region": region}
        for prefix in ("glue", "s3"):
            props[f"{prefix}.access-key-id"] = credentials.access_key
            props[f"{prefix}.secret-access-key"] = credentials.secret_key
            if credentials.token:
                props[f"{prefix}.session-token"] = credentials.token
            endpoint = self.conn_config.get_service_endpoint_url(prefix)
            if endpoint:
                props[f"{prefix}.endpoint"] = endpoint
        return props

    def get_catalog(self) -> Any:
        from pyiceberg.catalog import load_catalog

        return load_catalog("ddb_lake", **self.catalog_properties())

    def load_table(self, database: str, table: str) -> Any | None:
        """The Iceberg table ``database.table``, or None when the catalog has no such table."""
        from pyiceberg.exceptions import NoSuchTableError

        try:
            return self.get_catalog().load_table((database, table))
        except NoSuchTableError:
            return None

    def list_files(self, url: str) -> list[tuple[str, datetime]]:
        """Every object under ``url`` (``s3://bucket/prefix/``) with its last-modified time."""
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        s3 = AwsBaseHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, client_type="s3").conn
        return [(f"s3://{bucket}/{item['Key']}", item["LastModified"])
                for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                for item in page.get("Contents", [])]
