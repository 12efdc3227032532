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
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = psutil.Popen(command, stdout=out, stderr=None if show_stderr else err, text=True, env=env)
        peak = 0
        while proc.poll() is None:
            try:
                tree = [proc, *proc.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(interval)
        out.seek(0)
        err.seek(0)
        return peak, subprocess.CompletedProcess(command, proc.returncode, out.read(), err.read())
