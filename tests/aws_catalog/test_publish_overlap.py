"""Two intervals publishing at once: the older one is held between its read/decision and its switch.

The hold is our own hook's seam (a test subclass of ``LakeCatalogHook`` waits on a ``threading.Event`` before
``switch_table``); Glue is moto behind ``scripts/glue_version_lock.py``, which enforces UpdateTable's VersionId.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from catalog_lake import DATABASE, TABLE, rows

from ddb_lake.hooks.lake_catalog import LakeCatalogHook
from ddb_lake.operators.snapshot_publish import SnapshotPublishOperator

pytestmark = pytest.mark.integration
S0, S1, S2 = "20261120T000000Z", "20261121T000000Z", "20261122T000000Z"
ROOT = "mirror/snapshots/orders/"


class HeldCatalogHook(LakeCatalogHook):
    """Holds the first ``switch_table`` call (after the read and the decision) until ``release`` is set."""

    decided = threading.Event()
    release = threading.Event()

    def switch_table(self, database: str, wanted: dict[str, Any], read: dict[str, Any] | None) -> None:
        if not HeldCatalogHook.decided.is_set():
            HeldCatalogHook.decided.set()
            assert HeldCatalogHook.release.wait(60), "the test never released the held publish"
        super().switch_table(database, wanted, read)


class HeldPublishOperator(SnapshotPublishOperator):
    aws_hook_class = HeldCatalogHook


def publish(summary: dict, operator_class: type[SnapshotPublishOperator] = SnapshotPublishOperator) -> dict:
    _ready_for_execute_in_this_thread()
    return operator_class(task_id="publish", convert_summary=summary, database=DATABASE, table_name=TABLE,
                          bucket="lake").execute({})


def _ready_for_execute_in_this_thread() -> None:
    """Airflow 2's ExecutorSafeguard keeps ``callers`` in a thread-local set up only in the importing thread.

    Calling ``execute`` from a test's worker thread then fails with AttributeError (a task runs ``execute`` in its
    own main thread, so production never meets this); give this thread the empty dict the main thread has.
    """
    from ddb_lake.compat import AIRFLOW_V3

    if AIRFLOW_V3:
        return
    from airflow.models.baseoperator import ExecutorSafeguard

    if not hasattr(ExecutorSafeguard._sentinel, "callers"):
        ExecutorSafeguard._sentinel.callers = {}


@pytest.fixture
def held() -> type[HeldCatalogHook]:
    HeldCatalogHook.decided.clear()
    HeldCatalogHook.release.clear()
    yield HeldCatalogHook
    HeldCatalogHook.release.set()


@pytest.mark.parametrize("first_publish", [True, False], ids=["table-exists", "table-new"])
def test_newer_interval_stays_current_when_the_older_switches_last(lake, held, first_publish):
    if first_publish:
        publish(lake.write_snapshot(S0, rows(1)))
    older, newer = lake.write_snapshot(S1, rows(1, start=10)), lake.write_snapshot(S2, rows(2, start=20))
    with ThreadPoolExecutor(1) as pool:
        held_older = pool.submit(publish, older, HeldPublishOperator)
        assert held.decided.wait(30), "the older publish never reached its switch"
        newer_result = publish(newer)  # completes while the older one holds a decision made on the old table
        held.release.set()
        older_result = held_older.result(timeout=60)

    assert (newer_result["action"], newer_result["attempts"]) == ("published", 1)
    assert (older_result["action"], older_result["attempts"]) == ("kept_newer", 2)
    assert older_result["previous_snapshot"] == S2
    table = lake.glue.get_table(DatabaseName=DATABASE, Name=TABLE)["Table"]
    assert table["Parameters"]["ddb_lake.snapshot"] == S2
    assert table["StorageDescriptor"]["Location"] == f"s3://lake/{ROOT}snapshot={S2}/"
    assert table["Parameters"]["ddb_lake.contract"] == f"s3://lake/{ROOT}snapshot={S2}/_contract.json"
    # the older folder records a switch that was tried and lost, so retention counts its grace from then
    assert [key.rsplit("/", 1)[1] for key in lake.keys(f"{ROOT}snapshot={S1}/")] == [
        "_contract.json", "_manifest.json", "_published.json", "_superseded.json", "part-00000.parquet"
    ]
    assert f"{ROOT}snapshot={S2}/_superseded.json" not in lake.keys(f"{ROOT}snapshot={S2}/")


def test_sequential_publishes_need_one_attempt_each(lake):
    assert publish(lake.write_snapshot(S1, rows(1)))["attempts"] == 1
    assert publish(lake.write_snapshot(S2, rows(1)))["attempts"] == 1
    assert publish(lake.write_snapshot(S0, rows(1)))["action"] == "kept_newer"


def test_the_local_glue_refuses_an_update_under_a_stale_version_id(lake, local_stack_state):
    """What the publish relies on: UpdateTable(VersionId=old) fails once the table moved on (as AWS Glue does)."""
    publish(lake.write_snapshot(S1, rows(1)))
    glue = boto3.client("glue", endpoint_url=local_stack_state.services["glue_version_lock"]["url"],
                        region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    table = glue.get_table(DatabaseName=DATABASE, Name=TABLE)["Table"]
    update = {"Name": TABLE, "StorageDescriptor": table["StorageDescriptor"], "Parameters": {"note": "first"}}
    glue.update_table(DatabaseName=DATABASE, TableInput=update, VersionId=table["VersionId"])
    with pytest.raises(glue.exceptions.ConcurrentModificationException, match="concurrent modifications"):
        glue.update_table(DatabaseName=DATABASE, TableInput={**update, "Parameters": {"note": "second"}},
                          VersionId=table["VersionId"])
    after = glue.get_table(DatabaseName=DATABASE, Name=TABLE)["Table"]
    assert after["Parameters"] == {"note": "first"}
    assert int(after["VersionId"]) == int(table["VersionId"]) + 1
