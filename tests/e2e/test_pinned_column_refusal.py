"""End to end on the local stack: a value that does not fit its pinned column fails the DAG's convert task once,
terminally (no retry although the table allows one), with the item's key, the attribute, the value and the setting.
"""

from __future__ import annotations

import re
import sqlite3
import sys
from pathlib import Path

import pytest
from airflow_runs import airflow_env, dags_test, run_states, table_file

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "scripts"))

import seed_demo  # noqa: E402

from ddb_lake.core.config.table_config import load_table_config  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

DAG_ID = "ddb_lake__pin_orders"
DAY_END = "2026-11-22T00:00:00+00:00"


def test_a_value_its_pin_cannot_hold_fails_the_run_once_with_key_and_fix(local_stack_state, tmp_path):
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    path = table_file(tmp_path / "tables", "pin_orders", bigquery=None, retries=2)
    path.write_text(path.read_text() + 'columns:\n  amount: "int64"\n')
    config = load_table_config(path)
    assert config.retries == 2 and config.columns == {"amount": "int64"}
    env = airflow_env(tmp_path, tmp_path / "tables")
    seed_demo.seed_aws(config, 20)

    log = dags_test(env, DAG_ID, DAY_END, tmp_path / "dags-test.log")
    assert [state for _, state in run_states(env, DAG_ID)] == ["failed"], log[-4000:]
    with sqlite3.connect(tmp_path / "airflow-home" / "airflow.db") as db:
        tries = db.execute("SELECT task_id, state, try_number FROM task_instance WHERE dag_id = ? AND task_id LIKE "
                           "'convert%' ORDER BY task_id", (DAG_ID,)).fetchall()
        published = db.execute("SELECT state FROM task_instance WHERE dag_id = ? AND task_id = 'publish'",
                               (DAG_ID,)).fetchall()
    # convert.engine unset (auto): the export's one slice refuses the value; terminal: the two retries are not used
    assert tries == [("convert", "upstream_failed", 0), ("convert_slice", "failed", 1),
                     ("convert_slice_plan", "success", 1)]
    assert published == [("upstream_failed",)]

    found = re.search(r"Table pin-orders, export \S+: item \{pk=(?P<pk>[^,]+), sk=(?P<sk>[^}]+)\} \(file \S+, item "
                      r"\d+\): attribute 'amount' holds (?P<value>[0-9.]+), which does not fit its pinned type int64 "
                      r"\(columns\.amount in the table's YAML\)\. Nothing was written\. Fix: change columns\.amount "
                      r"to a type that holds it \(e\.g\. decimal\(\d+,2\)\) or remove the pin", log)
    assert found, log[-4000:]
    assert "AirflowFailException" in log
    dynamodb = AwsBaseHook(aws_conn_id="aws_default", client_type="dynamodb", region_name="us-east-1").conn
    item = dynamodb.get_item(TableName="pin-orders", Key={"pk": {"S": found["pk"]}, "sk": {"S": found["sk"]}})
    assert item["Item"]["amount"] == {"N": found["value"]}  # the value named is the item's, exactly
    s3 = AwsBaseHook(aws_conn_id="aws_default", client_type="s3", region_name="us-east-1").conn
    listed = s3.list_objects_v2(Bucket=config.lake.bucket, Prefix="lake/snapshots/").get("Contents", [])
    assert listed == []  # nothing written
