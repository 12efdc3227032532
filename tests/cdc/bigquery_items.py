"""Rows of a BigQuery table in the items comparison form of ``item_compare`` (an independent decoding of BigQuery's
own types: NUMERIC as Decimal, BYTES, ARRAY, STRUCT), so they compare with a DynamoDB scan value by value.

BigQuery has no NULL ARRAY: an absent list attribute reads as ``[]``. ``without_empty_lists`` drops top-level empty
lists on both sides of a comparison (the one thing BigQuery cannot tell apart)."""

from __future__ import annotations

from typing import Any

from ddb_reference import lake_to_plain, strip_null_members
from item_compare import sort_key

from ddb_lake.core.schema.lake_schema import LakeSchema
from ddb_lake.destinations.bigquery.load_hook import BigQueryLoadHook


def query(project: str, sql: str) -> list[dict[str, Any]]:
    hook = BigQueryLoadHook(api_deadline=5.0)
    return [dict(row.items()) for row in hook.client(project).query(sql, retry=hook.retry, job_retry=None).result()]


def bigquery_items(project: str, table_id: str, schema: LakeSchema,
                   set_attributes: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """Every row of ``project.table_id`` as ``{attribute: value}``, nulls dropped, sets sorted, sorted by key."""
    out = []
    for row in query(project, f"SELECT * FROM `{project}.{table_id}`"):
        item = {f.attribute: lake_to_plain(row.get(f.name), f.type.to_json()) for f in schema.fields}
        for name in set_attributes:
            if item.get(name) is not None:
                item[name] = sorted(item[name])
        out.append(strip_null_members(item))
    return sorted(out, key=sort_key)


def without_empty_lists(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in item.items() if v != []} for item in items]
