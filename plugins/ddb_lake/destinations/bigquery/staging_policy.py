"""The GCS staging copies' policy: one lifecycle rule deletes a table's staged files ``staging_days`` after upload.

A snapshot is staged at ``gs://<gcs_bucket>/<lake table>/<snapshot>/`` (the run plan's ``gcs_staging_prefix``), and
the load job has read it by the end of the run. GCS lifecycle rules carry no ID: the table's own rule is the one
whose ``matchesPrefix`` is exactly ``["<lake table>/"]``; every other rule of the bucket is kept as it is.
Pure: imports no Airflow.
"""

from __future__ import annotations

from typing import Any


def staging_root(lake_table: str) -> str:
    """``<lake table>/``: every staged snapshot of the table lies under it (see ``RunPlan.gcs_staging_prefix``)."""
    return f"{lake_table.strip('/')}/"


def staging_rules(lake_table: str, days: int | None) -> list[dict[str, Any]]:
    """The table's own rule: delete staged files ``days`` after upload (None: no rule, staged files are kept)."""
    if days is None:
        return []
    return [{"action": {"type": "Delete"}, "condition": {"age": days, "matchesPrefix": [staging_root(lake_table)]}}]


def merged_staging_rules(
    existing: list[dict[str, Any]], lake_table: str, own: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The bucket's rules with the table's own replaced by ``own``."""
    root = [staging_root(lake_table)]
    return [rule for rule in existing if rule.get("condition", {}).get("matchesPrefix") != root] + own
