"""The storage policy as S3 lifecycle rules: raw exports and change files expire under the table's own prefixes.

ddb-lake writes one rule per expiring prefix of a table, with the ID ``ddb-lake-<table>-<kind>``; merging keeps every
rule of the bucket it did not write and replaces only its own, so a rerun writes the same configuration.
Pure: the hook reads and writes the bucket's lifecycle configuration.
"""

from __future__ import annotations

from typing import Any

from ddb_lake.core.lake.layout import TableLayout

RULE_ID_PREFIX = "ddb-lake-"
# What each rule of a table expires; its ID is ``ddb-lake-<table>-<kind>``.
RULE_KINDS = ("raw-exports", "changes")


def rule_id(table: str, kind: str) -> str:
    """``ddb-lake-<table>-<kind>``: the ID of a rule ddb-lake writes for the lake table ``table``."""
    return f"{RULE_ID_PREFIX}{table}-{kind}"


def expiry_rule(rule_id: str, prefix: str, days: int) -> dict[str, Any]:
    """Expire objects under ``prefix/`` (and their old versions) ``days`` after they were written."""
    return {
        "ID": rule_id,
        "Filter": {"Prefix": prefix.strip("/") + "/"},
        "Status": "Enabled",
        "Expiration": {"Days": days},
        "NoncurrentVersionExpiration": {"NoncurrentDays": days},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    }


def table_rules(layout: TableLayout, *, raw_export_days: int | None, changes_days: int | None) -> list[dict[str, Any]]:
    """The table's own rules: raw exports after ``raw_export_days``, change files after ``changes_days`` (None: kept).

    Published snapshots are never expired by a rule: retention deletes them, after their grace.
    """
    rules = []
    if raw_export_days is not None:
        rules.append(expiry_rule(rule_id(layout.table, "raw-exports"), layout.exports_root_prefix(), raw_export_days))
    if changes_days is not None:
        rules.append(expiry_rule(rule_id(layout.table, "changes"), layout.changes_root_prefix(), changes_days))
    return rules


def merged_rules(existing: list[dict[str, Any]], table: str, own: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The bucket's rules with the table's own replaced by ``own``; every other rule is kept as it is.

    The table's own are matched by their exact IDs, so table ``orders`` never touches the rules of ``orders-raw``.
    """
    ids = {rule_id(table, kind) for kind in RULE_KINDS}
    return [rule for rule in existing if rule.get("ID") not in ids] + own
