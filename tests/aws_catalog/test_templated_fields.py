"""Every catalog operator declares its templated fields, and they render (XCom-like dicts stay dicts)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ddb_lake.operators.athena_partitions import AthenaPartitionRepairOperator
from ddb_lake.operators.glue_catalog import GlueSnapshotCatalogOperator, LakeGlueCrawlerOperator
from ddb_lake.operators.snapshot_publish import SnapshotPublishOperator, SnapshotRetentionOperator

CONTEXT = {"params": {"db": "lake_db", "table": "orders", "bucket": "lake-bucket"}, "ds_nodash": "20261122"}
SUMMARY = {"snapshot": "{{ ds_nodash }}T000000Z",
           "snapshot_prefix": "p/snapshots/orders/snapshot={{ ds_nodash }}T000000Z"}


def rendered(operator):
    operator.render_template_fields({**CONTEXT, "task": operator})
    return operator


@pytest.mark.parametrize(
    ("operator", "expected"),
    [
        (
            GlueSnapshotCatalogOperator(task_id="c", convert_summary=SUMMARY, database="{{ params.db }}",
                                        table_name="{{ params.table }}", bucket="{{ params.bucket }}"),
            {"database": "lake_db", "table_name": "orders", "bucket": "lake-bucket",
             "convert_summary": {"snapshot": "20261122T000000Z",
                                 "snapshot_prefix": "p/snapshots/orders/snapshot=20261122T000000Z"}},
        ),
        (
            SnapshotPublishOperator(task_id="p", convert_summary=SUMMARY, database="{{ params.db }}",
                                    table_name="{{ params.table }}", current_table="{{ params.table }}_now"),
            {"database": "lake_db", "current_table": "orders_now"},
        ),
        (
            SnapshotRetentionOperator(task_id="r", database="{{ params.db }}", table_name="{{ params.table }}",
                                      bucket="{{ params.bucket }}", prefix="mirror/{{ params.table }}",
                                      grace_period=timedelta(hours=2)),
            {"bucket": "lake-bucket", "prefix": "mirror/orders"},
        ),
        (
            LakeGlueCrawlerOperator(task_id="g", crawler_name="{{ params.table }}-crawler", database="{{ params.db }}",
                                    s3_paths=["s3://{{ params.bucket }}/p/"], role="arn:aws:iam::1:role/r"),
            {"crawler_name": "orders-crawler", "s3_paths": ["s3://lake-bucket/p/"]},
        ),
        (
            AthenaPartitionRepairOperator(task_id="a", database="{{ params.db }}", table="{{ params.table }}_snapshots",
                                          output_location="s3://{{ params.bucket }}/athena/", mode="msck_repair"),
            {"output_location": "s3://lake-bucket/athena/", "sql": "MSCK REPAIR TABLE `lake_db`.`orders_snapshots`"},
        ),
    ],
    ids=lambda value: type(value).__name__ if not isinstance(value, dict) else "",
)
def test_templated_fields_render(operator, expected):
    assert set(expected) <= set(operator.template_fields) | {"sql"}
    operator = rendered(operator)
    for name, value in expected.items():
        assert getattr(operator, name) == value


def test_retention_grace_period_accepts_seconds():
    operator = SnapshotRetentionOperator(task_id="r", database="d", table_name="t", bucket="b", grace_period=90)
    assert operator.grace_period == timedelta(seconds=90)
