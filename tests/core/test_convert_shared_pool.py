"""The converting process works beside its pool (one process fewer); results come back in task order."""

from __future__ import annotations


def test_tasks_shared_between_this_process_and_the_pool_come_back_in_task_order():
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from ddb_lake.core.convert.converter import _run

    with ProcessPoolExecutor(1, mp_context=get_context("forkserver")) as pool:
        assert _run(abs, [-3, 1, -2, 5, -8], pool, 1) == [3, 1, 2, 5, 8]
    assert _run(abs, [-3, 1], None, 0) == [3, 1]
