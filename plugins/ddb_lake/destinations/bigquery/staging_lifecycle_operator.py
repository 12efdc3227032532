"""Write the GCS staging policy of a table: one lifecycle rule for its staging prefix, the bucket's others kept."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from ddb_lake.compat import BaseOperator, Context
from ddb_lake.destinations.bigquery.staging_hook import StagingBucketHook
from ddb_lake.destinations.bigquery.staging_policy import merged_staging_rules, staging_root, staging_rules
from ddb_lake.operators.base import ClassifiedErrors


class StagingLifecycleOperator(ClassifiedErrors, BaseOperator):
    """Delete the table's staged copies under ``gs://<gcs_bucket>/<lake table>/`` ``staging_days`` after upload.

    Runs every run, so a changed YAML reaches the bucket; writes nothing when the rule is already in place.
    """

    template_fields: Sequence[str] = ("gcs_bucket", "lake_table")

    def __init__(
        self, *, gcs_bucket: str, lake_table: str, staging_days: int | None = 7,
        gcp_conn_id: str = "google_cloud_default", **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.gcs_bucket = gcs_bucket
        self.lake_table = lake_table
        self.staging_days = staging_days
        self.gcp_conn_id = gcp_conn_id

    @cached_property
    def hook(self) -> StagingBucketHook:
        return StagingBucketHook(gcp_conn_id=self.gcp_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        own = staging_rules(self.lake_table, self.staging_days)
        existing = self.hook.lifecycle_rules(self.gcs_bucket)
        rules = merged_staging_rules(existing, self.lake_table, own)
        changed = rules != existing
        if changed:
            self.hook.put_lifecycle_rules(self.gcs_bucket, rules)
        where = f"gs://{self.gcs_bucket}/{staging_root(self.lake_table)}"
        self.log.info("Staging lifecycle of %s: delete after %s days (%s)", where, self.staging_days,
                      "written" if changed else "already in place")
        return {"gcs_bucket": self.gcs_bucket, "prefix": staging_root(self.lake_table),
                "staging_days": self.staging_days, "changed": changed}
