"""The crawler path against moto server: create or update, start (a running crawl is waited for), deferrable wait."""

from __future__ import annotations

import asyncio
import time

import pytest
from airflow.providers.amazon.aws.triggers.glue_crawler import GlueCrawlerCompleteTrigger
from catalog_lake import DATABASE

from ddb_lake.compat import AirflowException
from ddb_lake.hooks.lake_catalog import GlueCrawlFailed, LakeCatalogHook, check_crawl, crawler_changes
from ddb_lake.operators.glue_catalog import LakeGlueCrawlerOperator

ROLE = "arn:aws:iam::123456789012:role/glue-crawler"
PATHS = ["s3://lake/mirror/snapshots/orders/"]


def crawler_operator(**kwargs) -> LakeGlueCrawlerOperator:
    return LakeGlueCrawlerOperator(
        task_id="crawl", crawler_name="orders", s3_paths=PATHS, database=DATABASE, role=ROLE, poll_interval=0.2,
        timeout=30, **kwargs,
    )


def test_crawler_changes_only_lists_differing_keys():
    current = {"Name": "c", "Role": ROLE, "DatabaseName": "db", "Targets": {"S3Targets": [{"Path": "s3://a/"}],
               "JdbcTargets": []}, "State": "READY"}
    same = {"Name": "c", "Role": ROLE, "DatabaseName": "db", "Targets": {"S3Targets": [{"Path": "s3://a/"}]}}
    assert crawler_changes(current, same) == {}
    moved = {**same, "Targets": {"S3Targets": [{"Path": "s3://b/"}]}}
    assert crawler_changes(current, moved) == {"Targets": {"S3Targets": [{"Path": "s3://b/"}]}}


def test_failed_crawl_names_error_and_log_group():
    report = {"crawler_name": "c", "status": "FAILED", "error_message": "access denied",
              "log_group": "/aws-glue/crawlers", "log_stream": "c"}
    with pytest.raises(GlueCrawlFailed, match="access denied; logs in CloudWatch group /aws-glue/crawlers"):
        check_crawl(report)


@pytest.mark.integration
def test_create_start_wait_and_report(lake):
    lake.finish_crawls_after(1)
    report = crawler_operator().execute({})
    assert (report["crawler_name"], report["state"], report["status"]) == ("orders", "READY", "COMPLETED")
    assert report["log_group"] == "/aws-glue/crawlers" and report["message_prefix"]
    crawler = lake.glue.get_crawler(Name="orders")["Crawler"]
    assert crawler["Targets"]["S3Targets"] == [{"Path": PATHS[0]}] and crawler["DatabaseName"] == DATABASE


@pytest.mark.integration
def test_rerun_with_same_config_does_not_call_update_crawler(lake):
    """moto answers UpdateCrawler with a 500: a rerun passes only because no update is sent."""
    lake.finish_crawls_after(1)
    hook = LakeCatalogHook(aws_conn_id="aws_default")
    wanted = crawler_operator().crawler_request()
    assert hook.create_or_update_crawler(wanted) == "created"
    assert hook.create_or_update_crawler(wanted) == "unchanged"
    with pytest.raises(Exception, match=r"500|InternalFailure|InternalError"):
        hook.create_or_update_crawler({**wanted, "TablePrefix": "raw_"})


@pytest.mark.integration
def test_running_crawl_is_waited_for_then_ours_starts(lake):
    lake.finish_crawls_after(2)
    operator = crawler_operator()
    operator.hook.create_or_update_crawler(operator.crawler_request())
    lake.glue.start_crawler(Name="orders")
    first_prefix = lake.glue.get_crawler(Name="orders")["Crawler"]["LastCrawl"]["MessagePrefix"]
    started = time.monotonic()
    report = operator.execute({})
    assert time.monotonic() - started >= 2  # two crawls of >= 1 s each (the running one, then ours)
    assert report["status"] == "COMPLETED"
    assert report["message_prefix"] != first_prefix  # a second crawl ran after the first ended


@pytest.mark.integration
def test_deferrable_path_runs_the_trigger_and_resumes(lake):
    from ddb_lake.compat import TaskDeferred

    lake.finish_crawls_after(1)
    operator = crawler_operator(deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute({})
    assert deferred.value.method_name == "execute_complete"
    trigger = deferred.value.trigger
    assert isinstance(trigger, GlueCrawlerCompleteTrigger)
    assert (trigger.waiter_delay, trigger.attempts) == (0.2, 151)  # poll_interval, timeout / poll_interval + 1
    event = asyncio.run(first_event(trigger))
    assert event == {"status": "success", "value": None}
    assert getattr(operator, deferred.value.method_name)({}, event)["status"] == "COMPLETED"


@pytest.mark.integration
def test_deferrable_waits_for_running_crawl_via_resume_method(lake):
    from ddb_lake.compat import TaskDeferred

    lake.finish_crawls_after(1)
    operator = crawler_operator(deferrable=True)
    operator.hook.create_or_update_crawler(operator.crawler_request())
    lake.glue.start_crawler(Name="orders")
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute({})
    assert deferred.value.method_name == "resume_after_running"
    event = asyncio.run(first_event(deferred.value.trigger))
    with pytest.raises(TaskDeferred) as again:
        operator.resume_after_running({}, event)
    assert again.value.method_name == "execute_complete"


@pytest.mark.integration
def test_trigger_reports_timeout_and_missing_crawler(lake):
    lake.finish_crawls_after(60)
    hook = LakeCatalogHook(aws_conn_id="aws_default")
    hook.create_or_update_crawler(crawler_operator().crawler_request())
    hook.start_crawler("orders")
    event = asyncio.run(first_event(GlueCrawlerCompleteTrigger("orders", waiter_delay=0.1, waiter_max_attempts=3)))
    assert event["status"] == "error" and event["message"] == "Waiter error: max attempts reached"
    assert hook.crawl_report("orders")["state"] == "RUNNING"
    missing = asyncio.run(first_event(GlueCrawlerCompleteTrigger("nope", waiter_delay=0.1, waiter_max_attempts=3)))
    assert missing["status"] == "error" and "EntityNotFoundException" in missing["message"]
    with pytest.raises(AirflowException, match="Waiting for Glue crawler orders failed"):
        crawler_operator().execute_complete({}, event)


@pytest.mark.integration
def test_error_event_on_a_ready_crawler_is_judged_by_its_last_crawl(lake):
    """crawler_ready also ends (as an error) on READY after a FAILED/CANCELLED crawl: the report decides, as before.

    moto's crawls end COMPLETED (or STOPPED), never FAILED, so the waiter's own failure event is handed in here.
    """
    from ddb_lake.compat import TaskDeferred

    lake.finish_crawls_after(1)
    operator = crawler_operator(deferrable=True)
    operator.hook.create_or_update_crawler(operator.crawler_request())
    lake.glue.start_crawler(Name="orders")
    operator.hook.wait_for_crawler("orders", poll_interval=0.2, timeout=30)
    failure = {"status": "error", "message": "Error while waiting for glue crawl to complete", "value": None}
    assert operator.execute_complete({}, failure)["status"] == "COMPLETED"
    with pytest.raises(TaskDeferred) as again:
        operator.resume_after_running({}, failure)  # the earlier crawl's end, whatever it was: ours starts
    assert again.value.method_name == "execute_complete"


def test_trigger_serialize_round_trip():
    trigger = GlueCrawlerCompleteTrigger("orders", aws_conn_id="lake_aws", region_name="eu-west-1", waiter_delay=3,
                                         waiter_max_attempts=41)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow.providers.amazon.aws.triggers.glue_crawler.GlueCrawlerCompleteTrigger"
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(__import__(module, fromlist=[name]), name)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs == {"crawler_name": "orders", "aws_conn_id": "lake_aws", "region_name": "eu-west-1",
                      "waiter_delay": 3, "waiter_max_attempts": 41}


async def first_event(trigger: GlueCrawlerCompleteTrigger) -> dict:
    async for event in trigger.run():
        return event.payload
    raise AssertionError("the trigger yielded no event")
