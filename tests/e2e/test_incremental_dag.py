"""End to end on the local stack: the incremental DAG of a table exports one hour of changes, converts it under
``changes/<table>/_attempts/snapshot=<start>-<end>/attempt=<id>/``, registers it in ``<table>_changes`` and proves
the counts.

moto writes full ``{"Item": ...}`` lines for an incremental export request (it has no change log), so this run
proves the DAG's wiring, layout and catalog for the incremental path; the incremental line format itself
(Keys/NewImage/OldImage, INSERT/MODIFY/REMOVE) is proven by the converter's own tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from airflow_runs import airflow_env, dags_test, run_states, table_file

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "scripts"))

import seed_demo  # noqa: E402

from ddb_lake.core.config.table_config import load_table_config  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

DAG_ID = "ddb_lake__inc_orders__incremental"
HOUR_END = "2026-11-22T05:00:00+00:00"
WINDOW = "20261122T040000Z-20261122T050000Z"


def test_one_hour_of_changes_lands_in_the_changes_table(local_stack_state, tmp_path):
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    path = table_file(tmp_path / "tables", "inc_orders", export={"mode": "incremental"}, bigquery=None)
    config = load_table_config(path)
    env = airflow_env(tmp_path, tmp_path / "tables")
    seed_demo.seed_aws(config, 150)

    log = dags_test(env, DAG_ID, HOUR_END, tmp_path / "dags-test.log")
    states = run_states(env, DAG_ID)
    assert [(logical[:16], state) for logical, state in states] == [("2026-11-22T05:00", "success")], log[-4000:]

    glue = AwsBaseHook(aws_conn_id="aws_default", client_type="glue", region_name="us-east-1").conn
    partitions = glue.get_partitions(DatabaseName=config.glue.database, TableName="inc_orders_changes")["Partitions"]
    assert [p["Values"] for p in partitions] == [[WINDOW]]
    location = partitions[0]["StorageDescriptor"]["Location"]  # the attempt folder of the convert try (path updated)
    assert f"/lake/changes/inc_orders/_attempts/snapshot={WINDOW}/attempt=" in location and location.endswith("-try1/")
    s3 = AwsBaseHook(aws_conn_id="aws_default", client_type="s3", region_name="us-east-1").conn
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=config.lake.bucket, Prefix="lake/changes/")["Contents"]]
    assert location.removeprefix(f"s3://{config.lake.bucket}/") + "_manifest.json" in keys
    assert "lake/snapshots/" not in " ".join(keys)  # the incremental DAG never publishes a snapshot
