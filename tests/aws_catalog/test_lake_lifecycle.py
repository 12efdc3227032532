"""LakeLifecycleOperator on moto: the table's rules land beside the bucket's other rules; reruns change nothing."""

from __future__ import annotations

import pytest

from ddb_lake.operators.lake_lifecycle import LakeLifecycleOperator

pytestmark = pytest.mark.integration

FOREIGN = {"ID": "logs-expiry", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 3}}


def rules_of(lake) -> dict[str, dict]:
    return {rule["ID"]: rule for rule in lake.s3.get_bucket_lifecycle_configuration(Bucket="lake")["Rules"]}


def lifecycle(**kwargs) -> LakeLifecycleOperator:
    return LakeLifecycleOperator(task_id="lifecycle", bucket="lake", prefix="mirror", table="orders", **kwargs)


def test_rules_for_the_tables_prefixes_keep_the_buckets_other_rules_and_reruns_change_nothing(lake):
    lake.s3.put_bucket_lifecycle_configuration(Bucket="lake", LifecycleConfiguration={"Rules": [FOREIGN]})

    first = lifecycle(raw_export_days=7, changes_days=30).execute({})
    assert first == {"bucket": "lake", "rules": ["ddb-lake-orders-raw-exports", "ddb-lake-orders-changes"],
                     "changed": True}
    rules = rules_of(lake)
    assert set(rules) == {"logs-expiry", "ddb-lake-orders-raw-exports", "ddb-lake-orders-changes"}
    assert rules["logs-expiry"]["Filter"] == {"Prefix": "logs/"} and rules["logs-expiry"]["Expiration"]["Days"] == 3
    assert rules["ddb-lake-orders-raw-exports"]["Filter"] == {"Prefix": "mirror/exports/orders/"}
    assert rules["ddb-lake-orders-raw-exports"]["Expiration"] == {"Days": 7}
    assert rules["ddb-lake-orders-changes"]["Filter"] == {"Prefix": "mirror/changes/orders/"}

    rerun = lifecycle(raw_export_days=7, changes_days=30).execute({})
    assert rerun["changed"] is False
    assert rules_of(lake) == rules


def test_a_changed_policy_replaces_only_the_tables_rules(lake):
    lake.s3.put_bucket_lifecycle_configuration(Bucket="lake", LifecycleConfiguration={"Rules": [FOREIGN]})
    lifecycle(raw_export_days=7, changes_days=30).execute({})
    assert lifecycle(raw_export_days=3, changes_days=None).execute({})["changed"] is True
    rules = rules_of(lake)
    assert set(rules) == {"logs-expiry", "ddb-lake-orders-raw-exports"}
    assert rules["ddb-lake-orders-raw-exports"]["Expiration"] == {"Days": 3}


def test_a_bucket_without_lifecycle_gets_only_the_tables_rules(lake):
    assert lifecycle().execute({})["rules"] == ["ddb-lake-orders-raw-exports"]
    assert list(rules_of(lake)) == ["ddb-lake-orders-raw-exports"]
    lifecycle(raw_export_days=None).execute({})
    with pytest.raises(lake.s3.exceptions.ClientError, match="NoSuchLifecycleConfiguration"):
        lake.s3.get_bucket_lifecycle_configuration(Bucket="lake")
