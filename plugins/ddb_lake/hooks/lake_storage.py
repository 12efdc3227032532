"""The lake's S3 side: the connection's S3 client (what the converter uses), folder listings, small objects,
lifecycle rules, s3fs options."""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from botocore.exceptions import ClientError


class LakeStorageHook(AwsBaseHook):
    """Client-type S3 hook; ``conn`` is the client the converter reads and writes through.

    That client keeps refreshing assumed-role and web-identity credentials and carries the connection's endpoint and
    botocore config (retries, proxies); :meth:`storage_options` copies credentials out once, for fsspec/s3fs users.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "s3"
        super().__init__(*args, **kwargs)

    def storage_options(self) -> dict[str, Any]:
        """``{"key", "secret", "token", "client_kwargs": {"endpoint_url", "region_name"}}`` for s3fs.

        Keys whose value is unknown are left out, so s3fs falls back to its own defaults for them. The credentials
        are a snapshot: they do not refresh.
        """
        credentials = self.get_credentials(region_name=self.conn_region_name)
        client_kwargs = {
            "endpoint_url": self.conn_config.get_service_endpoint_url(service_name="s3"),
            "region_name": self.conn_region_name,
        }
        options: dict[str, Any] = {
            "key": credentials.access_key,
            "secret": credentials.secret_key,
            "token": credentials.token,
            "client_kwargs": {name: value for name, value in client_kwargs.items() if value},
        }
        return {name: value for name, value in options.items() if value}

    def list_folders(self, bucket: str, prefix: str) -> list[str]:
        """Keys of the immediate sub-folders of ``prefix`` (each ending in ``/``), over all pages."""
        prefix = prefix.strip("/") + "/"
        folders: list[str] = []
        paginator = self.conn.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
            folders.extend(entry["Prefix"] for entry in page.get("CommonPrefixes", []))
        return folders

    def read_text(self, bucket: str, key: str) -> str | None:
        """The object's body as text; None when there is no such key."""
        return read_text(self.conn, bucket, key)

    def write_text(self, bucket: str, key: str, body: str) -> None:
        self.conn.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/json")

    def lifecycle_rules(self, bucket: str) -> list[dict[str, Any]]:
        """The bucket's lifecycle rules ([] when it has no lifecycle configuration)."""
        try:
            return self.conn.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "NoSuchLifecycleConfiguration":
                return []
            raise

    def put_lifecycle_rules(self, bucket: str, rules: list[dict[str, Any]]) -> None:
        """Replace the bucket's lifecycle configuration (with no rules: delete it)."""
        if rules:
            self.conn.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
        else:
            self.conn.delete_bucket_lifecycle(Bucket=bucket)


def read_text(client: Any, bucket: str, key: str) -> str | None:
    """The object's body as text through an S3 ``client``, in one GET; None when there is no such key."""
    try:
        return client.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
