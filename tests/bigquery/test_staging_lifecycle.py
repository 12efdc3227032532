"""The GCS staging policy on the storage emulator: the table's rule lands beside the bucket's others; reruns no-op."""

from __future__ import annotations

import pytest

from ddb_lake.destinations.bigquery.staging_lifecycle_operator import StagingLifecycleOperator
from ddb_lake.destinations.bigquery.staging_policy import merged_staging_rules, staging_rules

pytestmark = pytest.mark.integration

FOREIGN = {"action": {"type": "Delete"}, "condition": {"age": 3, "matchesPrefix": ["logs/"]}}
OTHER_TABLE = {"action": {"type": "Delete"}, "condition": {"age": 1, "matchesPrefix": ["orders2/"]}}


def test_rule_and_merge_exact_values():
    own = staging_rules("orders", 7)
    assert own == [{"action": {"type": "Delete"}, "condition": {"age": 7, "matchesPrefix": ["orders/"]}}]
    stale = {"action": {"type": "Delete"}, "condition": {"age": 30, "matchesPrefix": ["orders/"]}}
    assert merged_staging_rules([FOREIGN, stale, OTHER_TABLE], "orders", own) == [FOREIGN, OTHER_TABLE, *own]
    assert staging_rules("orders", None) == []


def rules_of(bucket_name: str) -> list[dict]:
    from airflow.providers.google.cloud.hooks.gcs import GCSHook

    return [dict(rule) for rule in GCSHook().get_conn().get_bucket(bucket_name).lifecycle_rules]


def test_staging_rule_keeps_the_buckets_other_rules_and_reruns_change_nothing(gcs_bucket):
    from airflow.providers.google.cloud.hooks.gcs import GCSHook

    bucket = GCSHook().get_conn().get_bucket(gcs_bucket)
    bucket.lifecycle_rules = [FOREIGN, OTHER_TABLE]
    bucket.patch()

    def run(days):
        return StagingLifecycleOperator(task_id="staging_lifecycle", gcs_bucket=gcs_bucket, lake_table="orders",
                                        staging_days=days).execute({})

    assert run(7)["changed"] is True
    assert rules_of(gcs_bucket) == [FOREIGN, OTHER_TABLE, *staging_rules("orders", 7)]
    assert run(7)["changed"] is False
    assert run(2)["changed"] is True
    assert rules_of(gcs_bucket) == [FOREIGN, OTHER_TABLE, *staging_rules("orders", 2)]
    run(None)
    assert rules_of(gcs_bucket) == [FOREIGN, OTHER_TABLE]
