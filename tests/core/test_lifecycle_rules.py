"""The storage policy's S3 lifecycle rules: the table's own prefixes, exact IDs, foreign rules kept."""

from __future__ import annotations

from ddb_lake.core.lake.layout import TableLayout
from ddb_lake.core.lake.lifecycle import merged_rules, table_rules

LAYOUT = TableLayout("lake", "mirror", "orders")


def test_rules_expire_raw_exports_and_changes_under_the_tables_own_prefixes():
    assert table_rules(LAYOUT, raw_export_days=7, changes_days=30) == [
        {
            "ID": "ddb-lake-orders-raw-exports", "Filter": {"Prefix": "mirror/exports/orders/"}, "Status": "Enabled",
            "Expiration": {"Days": 7}, "NoncurrentVersionExpiration": {"NoncurrentDays": 7},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        },
        {
            "ID": "ddb-lake-orders-changes", "Filter": {"Prefix": "mirror/changes/orders/"}, "Status": "Enabled",
            "Expiration": {"Days": 30}, "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        },
    ]


def test_null_keeps_a_kind_and_snapshots_never_get_a_rule():
    rules = table_rules(LAYOUT, raw_export_days=7, changes_days=None)
    assert [rule["ID"] for rule in rules] == ["ddb-lake-orders-raw-exports"]
    assert table_rules(LAYOUT, raw_export_days=None, changes_days=None) == []
    assert not any("snapshots" in rule["Filter"]["Prefix"] for rule in table_rules(LAYOUT, raw_export_days=1,
                                                                                    changes_days=1))


def test_merge_replaces_only_the_tables_own_rules():
    foreign = {"ID": "logs-expiry", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 3}}
    other_table = {"ID": "ddb-lake-orders-raw-raw-exports", "Filter": {"Prefix": "mirror/exports/orders-raw/"},
                   "Status": "Enabled", "Expiration": {"Days": 2}}
    stale = {"ID": "ddb-lake-orders-changes", "Filter": {"Prefix": "mirror/changes/orders/"}, "Status": "Enabled",
             "Expiration": {"Days": 99}}
    own = table_rules(LAYOUT, raw_export_days=7, changes_days=None)
    assert merged_rules([foreign, other_table, stale], "orders", own) == [foreign, other_table, *own]
    assert merged_rules([foreign, *own], "orders", own) == [foreign, *own]
