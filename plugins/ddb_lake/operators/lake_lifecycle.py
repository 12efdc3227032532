"""Write the table's storage policy as S3 lifecycle rules on the lake bucket, keeping the bucket's other rules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator

from ddb_lake.compat import Context
from ddb_lake.core.lake.layout import TableLayout
from ddb_lake.core.lake.lifecycle import merged_rules, table_rules
from ddb_lake.hooks.lake_storage import LakeStorageHook
from ddb_lake.operators.base import ClassifiedErrors


class LakeLifecycleOperator(ClassifiedErrors, AwsBaseOperator[LakeStorageHook]):
    """Expire the table's raw exports (and change files) with lifecycle rules ``ddb-lake-<table>-<kind>``.

    Runs every run, so a changed YAML reaches the bucket; writes nothing when the rules are already in place.

    :param raw_export_days: days until a raw export expires (None: kept).
    :param changes_days: days until the change files of incremental runs expire (None: kept).
    """

    template_fields: Sequence[str] = ("bucket", "prefix", "table")
    aws_hook_class = LakeStorageHook

    def __init__(
        self, *, bucket: str, prefix: str, table: str, raw_export_days: int | None = 7,
        changes_days: int | None = None, **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bucket = bucket
        self.prefix = prefix
        self.table = table
        self.raw_export_days = raw_export_days
        self.changes_days = changes_days

    def execute(self, context: Context) -> dict[str, Any]:
        own = table_rules(TableLayout(self.bucket, self.prefix, self.table), raw_export_days=self.raw_export_days,
                          changes_days=self.changes_days)
        existing = self.hook.lifecycle_rules(self.bucket)
        rules = merged_rules(existing, self.table, own)
        changed = rules != existing
        if changed:
            self.hook.put_lifecycle_rules(self.bucket, rules)
        self.log.info("Lifecycle rules of table %s on s3://%s: %s (%s)", self.table, self.bucket,
                      [rule["ID"] for rule in own] or "none", "written" if changed else "already in place")
        return {"bucket": self.bucket, "rules": [rule["ID"] for rule in own], "changed": changed}
