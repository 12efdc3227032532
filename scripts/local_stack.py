"""Start and stop the local service stand-ins on 127.0.0.1 and write the Airflow connections that point at them.

    python scripts/local_stack.py up   [--state-dir .stack] [--services aws,gcs,bigquery]
    python scripts/local_stack.py down [--state-dir .stack]
    python scripts/local_stack.py env  [--state-dir .stack]     # print the env file

``up`` picks free ports, starts each service, waits until it answers, and writes into the state directory:
``stack.json`` (ports, PIDs, URLs), ``stack.env`` (``export`` lines: ``AIRFLOW_CONN_*`` and emulator hosts) and
``pids``. ``down`` stops exactly the PIDs recorded there. Several stacks can run side by side in different state dirs.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = REPO_ROOT / ".venv" / "bin"
REGION = "us-east-1"
HOST = "127.0.0.1"


@dataclass
class StackState:
    """What ``up`` started: service name -> {pid, port, url}, and the env that points clients at it."""

    state_dir: Path
    services: dict[str, dict] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    def save(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "stack.json").write_text(json.dumps({"services": self.services, "env": self.env}, indent=2))
        (self.state_dir / "pids").write_text("".join(f"{s['pid']}\n" for s in self.services.values()))
        lines = [f"export {k}='{v}'" for k, v in sorted(self.env.items())]
        (self.state_dir / "stack.env").write_text("\n".join(lines) + "\n")

    @classmethod
    def load(cls, state_dir: Path) -> StackState:
        data = json.loads((state_dir / "stack.json").read_text())
        return cls(state_dir, data["services"], data["env"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, timeout: float = 30.0, *, process: subprocess.Popen | None = None) -> None:
    """Poll ``url`` until any HTTP answer comes back (any status), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the service exited with status {process.returncode} before answering")
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - loopback only
            return
        except urllib.error.HTTPError:
            return
        except OSError as exc:
            last_error = exc
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s: {last_error}")


def _spawn(cmd: list[str], log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed when it exits
    return subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        env={**os.environ, **(env or {})},
    )


def start_moto(state: StackState) -> None:
    """moto in server mode: DynamoDB, DynamoDB Streams, S3, Glue, Athena on one port."""
    port = free_port()
    url = f"http://{HOST}:{port}"
    proc = _spawn([str(VENV_BIN / "moto_server"), "-H", HOST, "-p", str(port)], state.state_dir / "moto.log")
    state.services["moto"] = {"pid": proc.pid, "port": port, "url": url}
    state.save()
    wait_for_http(f"{url}/moto-api/", process=proc)
    extra = {"endpoint_url": url, "region_name": REGION}
    aws_conn = {"conn_type": "aws", "login": "testing", "password": "testing", "extra": extra}
    state.env.update(
        {
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws_conn, separators=(",", ":")),
            "DDB_LAKE_MOTO_URL": url,
            "AWS_DEFAULT_REGION": REGION,
        }
    )


STARTERS = {"aws": start_moto}


def up(state_dir: Path, services: list[str]) -> StackState:
    state = StackState(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    try:
        for name in services:
            STARTERS[name](state)
            state.save()
    except BaseException:
        down(state_dir)
        raise
    state.save()
    return state


def down(state_dir: Path) -> list[int]:
    """Stop the process groups recorded in ``state_dir/pids``; return the PIDs that were stopped."""
    pid_file = state_dir / "pids"
    if not pid_file.exists():
        return []
    stopped = []
    for line in pid_file.read_text().split():
        pid = int(line)
        try:
            os.killpg(pid, signal.SIGTERM)
            stopped.append(pid)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + 10
    for pid in stopped:
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
    pid_file.unlink()
    return stopped


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["up", "down", "env"])
    parser.add_argument("--state-dir", type=Path, default=REPO_ROOT / ".stack")
    parser.add_argument("--services", default=",".join(STARTERS))
    args = parser.parse_args(argv)
    if args.command == "up":
        state = up(args.state_dir, [s for s in args.services.split(",") if s])
        for name, svc in state.services.items():
            print(f"{name:10s} pid {svc['pid']:>7d}  {svc['url']}", file=sys.stderr)
        print(args.state_dir / "stack.env")
    elif args.command == "down":
        stopped = down(args.state_dir)
        print(f"stopped {len(stopped)} process group(s): {' '.join(map(str, stopped))}", file=sys.stderr)
    else:
        print((args.state_dir / "stack.env").read_text(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
