"""The fault suite's tally, summed where the run's reports arrive (the xdist controller, or the one session).

A test of ``tests/faults`` declares each fault it injects with the ``injected`` fixture; its reports carry the count
as the user property ``fault_scenarios`` (tests/faults/conftest.py). Here the counts of the call reports are summed
(passed: survived or failed cleanly), a failed teardown takes its test's pass back, and at the end of the run one line
``N faults, M survived or failed cleanly`` is printed and written to ``$DDB_LAKE_FAULT_SUMMARY`` (default
``.stack/fault-summary.txt``). This plugin is loaded by the root conftest so the xdist controller, which collects no
test folder's conftest, has it too.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PROPERTY = "fault_scenarios"
_TALLY = {"faults": 0, "clean": 0}
_PASSED: set[str] = set()


def _scenarios(report: pytest.TestReport) -> int:
    return sum(value for name, value in report.user_properties if name == PROPERTY)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    count = _scenarios(report)
    if not count:
        return
    if report.when == "call":
        _TALLY["faults"] += count
        if report.passed:
            _TALLY["clean"] += count
            _PASSED.add(report.nodeid)
    elif report.when == "teardown" and report.failed and report.nodeid in _PASSED:
        _TALLY["clean"] -= count
        _PASSED.discard(report.nodeid)


def summary_line() -> str:
    return f"{_TALLY['faults']} faults, {_TALLY['clean']} survived or failed cleanly"


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    if _TALLY["faults"] and not _is_xdist_worker(config):
        terminalreporter.write_line(summary_line())


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _TALLY["faults"] or _is_xdist_worker(session.config):
        return
    target = Path(os.environ.get("DDB_LAKE_FAULT_SUMMARY", REPO_ROOT / ".stack" / "fault-summary.txt"))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(summary_line() + "\n")
