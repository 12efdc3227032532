"""Peak memory of a command's whole process tree (pool workers included), sampled while it runs; peak use of a
folder (:class:`FolderPeak`).

Used by bench/convert.py and bench/convert_disk.py, and by tests/core/test_convert_memory.py (the 1 GiB budget
check) and tests/core/test_convert_part_upload.py (at most one part per process in the work folder).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path

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


class FolderPeak:
    """The peak bytes, Parquet files and Parquet bytes under ``folder`` (at any one poll), polled every ``interval``
    seconds in a thread while the ``with`` block runs; ``polls`` counts the polls."""

    def __init__(self, folder: Path, interval: float = 0.002):
        self.folder, self.interval, self.polls = folder, interval, 0
        self.peak = {"bytes": 0, "parquet_files": 0, "parquet_bytes": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> FolderPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            total = files = parquet = 0
            for folder, _, names in os.walk(self.folder):
                for name in names:
                    try:
                        size = os.path.getsize(os.path.join(folder, name))
                    except OSError:  # deleted while listed (a part placed, a raw chunk read)
                        continue
                    total += size
                    if name.endswith(".parquet"):
                        files, parquet = files + 1, parquet + size
            now = {"bytes": total, "parquet_files": files, "parquet_bytes": parquet}
            self.peak = {key: max(value, now[key]) for key, value in self.peak.items()}
            self.polls += 1
            time.sleep(self.interval)
