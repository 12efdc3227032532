"""Peak memory of a command's whole process tree (pool workers included), sampled while it runs.

Used by bench/convert.py and by tests/core/test_convert_memory.py (the 1 GiB budget check).
"""

from __future__ import annotations

import subprocess
import tempfile
import time

import psutil


def run_with_peak_rss(command: list[str], env: dict[str, str] | None = None, interval: float = 0.02,
                      show_stderr: bool = False) -> tuple[int, subprocess.CompletedProcess]:
    """Run ``command``; return the peak RSS summed over its process tree (sampled every ``interval`` s) and its
    result (text output; stderr left on the terminal with ``show_stderr``). Output goes to temporary files, so a
    chatty command cannot fill a pipe and stall."""
    peak, _, result = run_with_usage(command, env, interval, show_stderr)
    return peak, result


def run_with_usage(command: list[str], env: dict[str, str] | None = None, interval: float = 0.02,
                   show_stderr: bool = False) -> tuple[int, float, subprocess.CompletedProcess]:
    """As :func:`run_with_peak_rss`, plus the CPU seconds (user + system) of the whole tree: each process's last
    sampled CPU time, summed (a process loses at most ``interval`` of its last CPU time). CPU seconds hardly change
    with the machine's load, unlike wall time."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = psutil.Popen(command, stdout=out, stderr=None if show_stderr else err, text=True, env=env)
        peak = 0
        cpu: dict[tuple[int, float], float] = {}
        while proc.poll() is None:
            try:
                tree = [proc, *proc.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
                for p in tree:
                    times = p.cpu_times()
                    cpu[(p.pid, p.create_time())] = times.user + times.system
            except psutil.Error:
                pass
            time.sleep(interval)
        out.seek(0)
        err.seek(0)
        return peak, sum(cpu.values()), subprocess.CompletedProcess(command, proc.returncode, out.read(), err.read())
