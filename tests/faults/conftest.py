"""The fault suite's fixtures: the fault-injecting proxy in front of the session's AWS stand-ins, and the tally.

Every test that injects a fault declares it with ``injected("what")``. At the end of the run the suite prints,
and writes to ``$DDB_LAKE_FAULT_SUMMARY`` (default ``.stack/fault-summary.txt``), one line:
``N faults, M survived or failed cleanly`` — N the scenarios injected, M those whose test passed (the test asserts
what readers see: the run survived, or it failed with a clear terminal error and published nothing half-done).
The sum is taken in tests/fault_tally.py, where the reports arrive (the xdist controller included).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fault_proxy import FaultProxy
from fault_tally import PROPERTY

SCENARIOS = pytest.StashKey[list]()


@pytest.fixture(scope="session")
def fault_proxy(local_stack_state) -> FaultProxy:
    """The proxy: Glue calls go on to the VersionId lock, Athena to its stand-in, everything else to moto."""
    services = local_stack_state.services
    upstreams = {"glue": services["glue_version_lock"]["url"]}
    if "athena" in services:
        upstreams["athena"] = services["athena"]["url"]
    proxy = FaultProxy(default=services["moto"]["url"], upstreams=upstreams).start()
    yield proxy
    proxy.stop()


def proxied_aws_connection(proxy_url: str) -> str:
    """``aws_default`` with every service (Glue and Athena too) sent to the proxy."""
    extra = {"endpoint_url": proxy_url, "region_name": "us-east-1",
             "service_config": {"glue": {"endpoint_url": proxy_url}, "athena": {"endpoint_url": proxy_url}}}
    return json.dumps({"conn_type": "aws", "login": "testing", "password": "testing", "extra": extra})


@pytest.fixture
def proxy(fault_proxy: FaultProxy, moto_reset: str, monkeypatch: pytest.MonkeyPatch) -> FaultProxy:
    """A clean moto account; ``aws_default`` (in this process and in the Airflow processes it starts) goes through
    the proxy; no rule, zero counters. Rules are dropped again after the test."""
    fault_proxy.clear()
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", proxied_aws_connection(fault_proxy.url))
    yield fault_proxy
    fault_proxy.clear()


@pytest.fixture
def injected(request: pytest.FixtureRequest):
    """``injected("what")``: count a fault scenario of this test in the suite's summary line."""
    scenarios = request.node.stash.setdefault(SCENARIOS, [])

    def declare(what: str) -> None:
        scenarios.append(what)

    return declare


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    """Put the test's declared fault count on its call and teardown reports (``fault_tally.py`` sums them)."""
    outcome = yield
    report = outcome.get_result()
    scenarios = item.stash.get(SCENARIOS, [])
    if scenarios and report.when in ("call", "teardown"):
        report.user_properties = [*report.user_properties, (PROPERTY, len(scenarios))]
