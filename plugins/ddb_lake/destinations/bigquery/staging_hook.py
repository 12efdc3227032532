"""The staging bucket's lifecycle rules, through the google provider's GCS hook."""

from __future__ import annotations

from typing import Any

from airflow.providers.google.cloud.hooks.gcs import GCSHook


class StagingBucketHook(GCSHook):
    """Reads and replaces a GCS bucket's lifecycle rules."""

    def lifecycle_rules(self, bucket_name: str) -> list[dict[str, Any]]:
        return [dict(rule) for rule in self.get_conn().get_bucket(bucket_name).lifecycle_rules]

    def put_lifecycle_rules(self, bucket_name: str, rules: list[dict[str, Any]]) -> None:
        bucket = self.get_conn().get_bucket(bucket_name)
        bucket.lifecycle_rules = rules
        bucket.patch()
