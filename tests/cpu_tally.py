"""Where the suite's CPU goes: with ``DDB_LAKE_CPU_TALLY=<file>``, each test's CPU seconds, one JSON line per phase.

The suite is CPU-bound on 2 cores, so a test's wall time under xdist says more about its neighbours than about its
cost. Here a test's cost is the CPU its worker's process tree used during the phase (setup, call, teardown): the sum
of user + system time (own and reaped children's) over the worker and every live descendant (the local stack's
services, the Airflow fork server and the commands it forked), read from /proc before and after. CPU of a process that
both starts and ends inside a phase is counted once its parent reaps it. Processes that daemonize out of the tree
(PostgreSQL under ``pg_ctl``) are not counted. Loaded by the root conftest; off unless the variable is set.

``python tests/cpu_tally.py <file>`` prints the tests by CPU, the costliest first, with their share of the total.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from local_stack import every_process_cpu


def _tree_cpu_seconds(root_pid: int) -> float:
    """User + system CPU (own and reaped children's) of ``root_pid`` and all its live descendants."""
    processes = every_process_cpu()
    total, members = 0.0, {root_pid}
    for pid in sorted(processes):  # a descendant may have a smaller pid than its parent: walk up instead
        ancestor, seen = pid, 0
        while ancestor not in members and ancestor > 1 and seen < 64:
            ancestor, seen = (processes[ancestor].ppid if ancestor in processes else 0), seen + 1
        if ancestor in members:
            members.add(pid)
            total += processes[pid].own_s + processes[pid].reaped_children_s
    return total


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    target = os.environ.get("DDB_LAKE_CPU_TALLY")
    if not target:
        yield
        return
    cpu, wall = _tree_cpu_seconds(os.getpid()), time.monotonic()
    yield
    line = {"test": item.nodeid, "cpu_s": round(_tree_cpu_seconds(os.getpid()) - cpu, 2),
            "wall_s": round(time.monotonic() - wall, 2), "worker": os.environ.get("PYTEST_XDIST_WORKER", "main")}
    with open(target, "a") as out:
        out.write(json.dumps(line) + "\n")


def main(path: str) -> None:
    lines = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    total = sum(line["cpu_s"] for line in lines)
    print(f"{len(lines)} tests, {total:.0f} CPU s in all")
    for line in sorted(lines, key=lambda line: -line["cpu_s"])[:40]:
        print(f"{line['cpu_s']:8.1f} CPU s {line['cpu_s'] / total:6.1%} {line['wall_s']:8.1f} s wall  {line['test']}")
    by_folder: dict[str, float] = {}
    for line in lines:
        folder = line["test"].split("::")[0].rsplit("/", 1)[0]
        by_folder[folder] = by_folder.get(folder, 0.0) + line["cpu_s"]
    for folder, cpu in sorted(by_folder.items(), key=lambda kv: -kv[1]):
        print(f"{cpu:8.1f} CPU s {cpu / total:6.1%}  {folder}/")


if __name__ == "__main__":
    main(sys.argv[1])
