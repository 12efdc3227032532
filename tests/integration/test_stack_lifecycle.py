"""``local_stack.up``/``down`` start exactly the recorded process groups and leave nothing running behind them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import local_stack
import pytest

pytestmark = pytest.mark.integration


def _processes_in_groups(pgids: set[int]) -> dict[int, str]:
    """pid -> command line of every live (non-zombie) process whose process group is in ``pgids``, read from ps."""
    listing = subprocess.run(["ps", "-eo", "pid=,pgid=,stat=,args="], capture_output=True, text=True, check=True)
    found = {}
    for line in listing.stdout.splitlines():
        pid, pgid, stat, args = line.split(None, 3) + [""] * (4 - len(line.split(None, 3)))
        if int(pgid) in pgids and not stat.startswith("Z"):
            found[int(pid)] = args
    return found


def test_up_records_every_service_and_down_leaves_no_process(tmp_path: Path):
    state = local_stack.up(tmp_path, list(local_stack.STARTERS))
    try:
        pgids = {svc["pid"] for svc in state.services.values()}
        assert set(state.services) == {"moto", "glue_version_lock", "athena", "gcs", "bigquery"}
        assert (tmp_path / "pids").read_text().split() == [str(svc["pid"]) for svc in state.services.values()]
        running = _processes_in_groups(pgids)
        assert set(running) >= pgids, f"a recorded service is not running: {running}"
        for svc in state.services.values():
            assert svc["url"] == f"http://127.0.0.1:{svc['port']}"
        env_file = (tmp_path / "stack.env").read_text()
        for key in ("AIRFLOW_CONN_AWS_DEFAULT", "AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT", "STORAGE_EMULATOR_HOST",
                    "BIGQUERY_EMULATOR_HOST"):
            assert f"export {key}=" in env_file
        aws_extra = json.loads(state.env["AIRFLOW_CONN_AWS_DEFAULT"])["extra"]
        assert aws_extra["endpoint_url"] == state.services["moto"]["url"]
        assert aws_extra["service_config"] == {"glue": {"endpoint_url": state.services["glue_version_lock"]["url"]},
                                             "athena": {"endpoint_url": state.services["athena"]["url"]}}
        gcp_conn = json.loads(state.env["AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT"])
        assert gcp_conn["extra"] == {"is_anonymous": True, "project": local_stack.GCP_PROJECT}
    finally:
        stopped = local_stack.down(tmp_path)

    assert sorted(stopped) == sorted(pgids)
    assert _processes_in_groups(pgids) == {}, "down left processes of the stack running"
    assert not (tmp_path / "pids").exists()
    for svc in state.services.values():
        with pytest.raises(OSError):
            urllib.request.urlopen(svc["url"], timeout=1)
    assert local_stack.down(tmp_path) == [], "a second down must be a no-op"


def test_failed_up_stops_what_it_already_started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(local_stack, "EMULATOR_VENV_BIN", tmp_path / "no-such-venv" / "bin")

    with pytest.raises(FileNotFoundError, match=r"bootstrap\.sh emulators"):
        local_stack.up(tmp_path / "state", ["aws", "gcs"])

    moto_pid = json.loads((tmp_path / "state" / "stack.json").read_text())["services"]["moto"]["pid"]
    assert _processes_in_groups({moto_pid}) == {}


def test_cli_up_env_down_round_trip(tmp_path: Path):
    script = str(Path(local_stack.__file__))
    up = subprocess.run(
        [sys.executable, script, "up", "--state-dir", str(tmp_path), "--services", "aws"],
        capture_output=True, text=True, check=True, timeout=60,
    )
    assert up.stdout.strip() == str(tmp_path / "stack.env")
    moto_pid, lock_pid = map(int, (tmp_path / "pids").read_text().split())  # moto, its Glue VersionId proxy
    try:
        printed = subprocess.run(
            [sys.executable, script, "env", "--state-dir", str(tmp_path)], capture_output=True, text=True, check=True
        ).stdout
        assert "export AIRFLOW_CONN_AWS_DEFAULT=" in printed
        assert "STORAGE_EMULATOR_HOST" not in printed
    finally:
        down = subprocess.run(
            [sys.executable, script, "down", "--state-dir", str(tmp_path)], capture_output=True, text=True, timeout=60
        )
    assert down.returncode == 0, down.stderr
    assert f"stopped 2 process group(s): {moto_pid} {lock_pid}" in down.stderr
    assert _processes_in_groups({moto_pid, lock_pid}) == {}
    with pytest.raises(ProcessLookupError):
        os.kill(moto_pid, 0)


def test_athena_without_aws_is_refused_before_anything_starts(tmp_path: Path):
    with pytest.raises(RuntimeError, match=r"start aws before it"):
        local_stack.up(tmp_path, ["athena"])
    assert not (tmp_path / "pids").exists(), "nothing was started, so nothing is recorded"
