"""Glue crawler rules: the CreateCrawler request, which keys an update must send, and the LastCrawl report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ddb_lake.core.errors import TerminalError

CRAWLER_KEYS = (
    "Role", "DatabaseName", "Targets", "TablePrefix", "SchemaChangePolicy", "RecrawlPolicy", "Configuration",
)


class GlueCrawlFailed(TerminalError):
    """The crawl ended FAILED or CANCELLED: its error message and CloudWatch log group say what to fix."""


def crawler_request(
    name: str, role: str, database: str, s3_paths: Sequence[str], table_prefix: str = "",
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The CreateCrawler request over ``s3_paths``; ``config`` adds or overrides keys (e.g. SchemaChangePolicy)."""
    request = {
        "Name": name,
        "Role": role,
        "DatabaseName": database,
        "Targets": {"S3Targets": [{"Path": path} for path in s3_paths]},
        **(config or {}),
    }
    if table_prefix:
        request["TablePrefix"] = table_prefix
    return request


def crawler_changes(current: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """The keys of ``wanted`` (a CreateCrawler request) whose value differs from the existing crawler's."""
    return {
        key: value
        for key, value in wanted.items()
        if key in CRAWLER_KEYS and _normalised(current.get(key)) != _normalised(value)
    }


def _normalised(value: Any) -> Any:
    """Compare crawler configs without caring about empty lists/dicts Glue adds to its answers."""
    if isinstance(value, dict):
        return {k: _normalised(v) for k, v in value.items() if v not in (None, [], {}, "")}
    if isinstance(value, list):
        return [_normalised(v) for v in value]
    return value


def last_crawl_report(crawler: dict[str, Any]) -> dict[str, Any]:
    """``{crawler_name, state, status, error_message, log_group, log_stream, message_prefix, start_time}``."""
    last = crawler.get("LastCrawl") or {}
    start = last.get("StartTime")
    return {
        "crawler_name": crawler["Name"],
        "state": crawler.get("State"),
        "status": last.get("Status"),
        "error_message": last.get("ErrorMessage"),
        "log_group": last.get("LogGroup"),
        "log_stream": last.get("LogStream"),
        "message_prefix": last.get("MessagePrefix"),
        "start_time": start.isoformat() if hasattr(start, "isoformat") else start,
    }


def check_crawl(report: dict[str, Any]) -> dict[str, Any]:
    """Raise :class:`GlueCrawlFailed` (with the error and the log group) unless the last crawl succeeded."""
    if report["status"] in ("FAILED", "CANCELLED"):
        raise GlueCrawlFailed(
            f"Glue crawler {report['crawler_name']} ended {report['status']}: {report['error_message']}; logs in "
            f"CloudWatch group {report['log_group']}, stream {report['log_stream']}"
        )
    return report
