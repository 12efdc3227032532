"""Start and stop the local service stand-ins on 127.0.0.1 and write the Airflow connections that point at them.

    python scripts/local_stack.py up   [--state-dir .stack] [--services aws,athena,gcs,bigquery]
    python scripts/local_stack.py down [--state-dir .stack]
    python scripts/local_stack.py env  [--state-dir .stack]     # print the env file

``up`` picks free ports, starts each service, waits until it answers, and writes into the state directory:
``stack.json`` (ports, PIDs, URLs), ``stack.env`` (``export`` lines: ``AIRFLOW_CONN_*`` and emulator hosts) and
``pids``. ``down`` stops exactly the PIDs recorded there. Several stacks can run side by side in different state dirs.

``aws`` is moto plus ``scripts/glue_version_lock.py`` in front of its Glue (moto ignores UpdateTable's VersionId; the
proxy enforces it as AWS Glue does); ``aws_default`` sends Glue through the proxy. ``athena`` (after ``aws``) is
``scripts/athena_local.py``: it runs the SQL on DuckDB over moto's S3 and Glue. The AWS
connection then routes Athena there through ``service_config`` and every other service to moto.
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
EMULATOR_VENV_BIN = Path(os.environ.get("DDB_LAKE_EMULATOR_VENV", REPO_ROOT / ".venv-emulators")) / "bin"
REGION = "us-east-1"
HOST = "127.0.0.1"
GCP_PROJECT = "ddb-lake-local"
# The GCS emulator (disk mode) keeps objects under <state>/gcs/.cloudstorage/<bucket>/<object>; bqemulator resolves
# gs://bucket/object under the same folder, so load jobs from gs:// see what was uploaded through the GCS API.
GCS_DATA_DIR = "gcs"
GCS_OBJECT_ROOT = "gcs/.cloudstorage"


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
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError as exc:
            last_error = exc
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s: {last_error}")


def _spawn(cmd: list[str], log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start ``cmd`` in its own session (so ``down`` can stop its whole process group), output to ``log_path``."""
    with open(log_path, "ab") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            env={**os.environ, **(env or {})},
        )


def start_moto(state: StackState) -> None:
    """moto in server mode: DynamoDB, DynamoDB Streams, S3, Glue (and Athena, unless the athena stand-in runs)."""
    port = free_port()
    url = f"http://{HOST}:{port}"
    proc = _spawn([str(VENV_BIN / "moto_server"), "-H", HOST, "-p", str(port)], state.state_dir / "moto.log")
    state.services["moto"] = {"pid": proc.pid, "port": port, "url": url}
    state.save()
    wait_for_http(f"{url}/moto-api/", process=proc)
    start_glue_version_lock(state)
    state.env.update(
        {
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws_connection(state), separators=(",", ":")),
            "DDB_LAKE_MOTO_URL": url,
            "AWS_DEFAULT_REGION": REGION,
        }
    )


def start_glue_version_lock(state: StackState) -> None:
    """The VersionId-enforcing proxy in front of moto's Glue (scripts/glue_version_lock.py)."""
    port = free_port()
    url = f"http://{HOST}:{port}"
    cmd = [
        str(VENV_BIN / "python"), str(REPO_ROOT / "scripts" / "glue_version_lock.py"), "--host", HOST,
        "--port", str(port), "--upstream", state.services["moto"]["url"],
    ]
    proc = _spawn(cmd, state.state_dir / "glue_version_lock.log")
    state.services["glue_version_lock"] = {"pid": proc.pid, "port": port, "url": url}
    state.save()
    wait_for_http(f"{url}/moto-api/", process=proc)


def aws_connection(state: StackState) -> dict:
    """``aws_default``: moto; Glue through the VersionId proxy; Athena at the local stand-in when it runs."""
    extra: dict = {"endpoint_url": state.services["moto"]["url"], "region_name": REGION}
    service_config: dict = {}
    if "glue_version_lock" in state.services:
        service_config["glue"] = {"endpoint_url": state.services["glue_version_lock"]["url"]}
    if "athena" in state.services:
        service_config["athena"] = {"endpoint_url": state.services["athena"]["url"]}
    if service_config:
        extra["service_config"] = service_config
    return {"conn_type": "aws", "login": "testing", "password": "testing", "extra": extra}


def start_athena(state: StackState) -> None:
    """The Athena stand-in (scripts/athena_local.py): DuckDB over moto's S3, tables from moto's Glue."""
    if "moto" not in state.services:
        raise RuntimeError("the athena service reads moto's S3 and Glue: start aws before it (--services aws,athena)")
    port = free_port()
    url = f"http://{HOST}:{port}"
    cmd = [
        str(VENV_BIN / "python"), str(REPO_ROOT / "scripts" / "athena_local.py"), "--host", HOST, "--port", str(port),
        "--aws-endpoint", state.services["moto"]["url"], "--region", REGION,
    ]
    proc = _spawn(cmd, state.state_dir / "athena.log")
    state.services["athena"] = {"pid": proc.pid, "port": port, "url": url}
    state.save()
    wait_for_http(url, process=proc)
    state.env.update(
        {
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws_connection(state), separators=(",", ":")),
            "DDB_LAKE_ATHENA_URL": url,
        }
    )


def _emulator_python() -> Path:
    python = EMULATOR_VENV_BIN / "python"
    if not python.exists():
        raise FileNotFoundError(
            f"{python} not found: create the emulators' venv with `bash scripts/bootstrap.sh emulators`"
        )
    return python


def start_gcs(state: StackState) -> None:
    """gcp-storage-emulator in disk mode (objects are plain files other tools can read)."""
    port = free_port()
    url = f"http://{HOST}:{port}"
    data_dir = state.state_dir / GCS_DATA_DIR
    data_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(_emulator_python()), "-m", "gcp_storage_emulator",
        "-d", str(data_dir), "start", "--host", HOST, "--port", str(port), "--project-number", "1234",
    ]
    proc = _spawn(cmd, state.state_dir / "gcs.log")
    state.services["gcs"] = {"pid": proc.pid, "port": port, "url": url}
    state.save()
    wait_for_http(f"{url}/storage/v1/b?project={GCP_PROJECT}", process=proc)
    state.env.update(
        {
            **_google_env(),
            "STORAGE_EMULATOR_HOST": url,
            "DDB_LAKE_GCS_OBJECT_ROOT": str(state.state_dir / GCS_OBJECT_ROOT),
        }
    )


def start_bigquery(state: StackState) -> None:
    """bqemulator (DuckDB-backed BigQuery REST), in memory, through the offline launcher; gs:// reads GCS's folder."""
    port = free_port()
    grpc_port = free_port()
    url = f"http://{HOST}:{port}"
    gcs_root = state.state_dir / GCS_OBJECT_ROOT
    gcs_root.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(_emulator_python()), str(REPO_ROOT / "scripts" / "bqemulator_launcher.py"), "start",
        "--rest-host", HOST, "--rest-port", str(port), "--grpc-host", HOST, "--grpc-port", str(grpc_port),
        "--project", GCP_PROJECT, "--ephemeral", "--log-level", "warning",
    ]
    env = {
        "BQEMU_GCS_LOCAL_ROOT": str(gcs_root),
        # Avro support is a DuckDB extension download: impossible offline, and trying costs ~1.5 s per start.
        "BQEMU_ENABLE_FORMAT_EXTENSIONS": "false",
        "BQEMU_UPLOAD_STAGING_DIR": str(state.state_dir / "bigquery-uploads"),
    }
    proc = _spawn(cmd, state.state_dir / "bigquery.log", env)
    state.services["bigquery"] = {"pid": proc.pid, "port": port, "url": url, "grpc_port": grpc_port}
    state.save()
    wait_for_http(f"{url}/bigquery/v2/projects/{GCP_PROJECT}/datasets", process=proc)
    state.env.update({**_google_env(), "BIGQUERY_EMULATOR_HOST": url})


def _google_env() -> dict[str, str]:
    """The Airflow connection and client settings shared by the GCS and BigQuery emulators."""
    gcp_conn = {"conn_type": "google_cloud_platform", "extra": {"is_anonymous": True, "project": GCP_PROJECT}}
    return {
        "AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT": json.dumps(gcp_conn, separators=(",", ":")),
        "GOOGLE_CLOUD_PROJECT": GCP_PROJECT,
        "DDB_LAKE_GCP_PROJECT": GCP_PROJECT,
        # Anything that still asks google-auth for default credentials fails fast on loopback instead of probing
        # the cloud metadata server.
        "GCE_METADATA_HOST": f"{HOST}:9",
        "GCE_METADATA_IP": f"{HOST}:9",
        "NO_GCE_CHECK": "true",
    }


STARTERS = {"aws": start_moto, "athena": start_athena, "gcs": start_gcs, "bigquery": start_bigquery}


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
    _write_cpu_seconds(state_dir)
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
        while time.monotonic() < deadline and _group_alive(pid):
            time.sleep(0.05)
        if _group_alive(pid):
            os.killpg(pid, signal.SIGKILL)
            kill_deadline = time.monotonic() + 5
            while time.monotonic() < kill_deadline and _group_alive(pid):
                time.sleep(0.05)
    pid_file.unlink(missing_ok=True)
    return stopped


@dataclass(frozen=True)
class ProcessCpu:
    """One process's line of ``/proc/<pid>/stat``: its parent, its process group, and CPU seconds (user + system)
    of its own and of the children it reaped."""

    ppid: int
    pgrp: int
    own_s: float
    reaped_children_s: float


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int | str) -> ProcessCpu | None:
    """``/proc/<pid>/stat`` read now; None when the process is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()  # after the command name
    except OSError:
        return None
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return ProcessCpu(int(fields[1]), int(fields[2]), (utime + stime) / _CLOCK_TICKS, (cutime + cstime) / _CLOCK_TICKS)


def every_process_cpu() -> dict[int, ProcessCpu]:
    """``process_cpu`` of every process alive now, by pid."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        cpu = process_cpu(stat.parent.name)
        if cpu is not None:
            found[int(stat.parent.name)] = cpu
    return found


def _write_cpu_seconds(state_dir: Path) -> None:
    """``cpu.json``: CPU seconds (user + system) each service used until now, for measuring what a test costs."""
    used = {}
    for name, service in StackState.load(state_dir).services.items():
        cpu = process_cpu(service["pid"])
        if cpu is not None:
            used[name] = round(cpu.own_s, 2)
    (state_dir / "cpu.json").write_text(json.dumps(used, indent=2))


def _group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` still runs (the leader is reaped first if it is our child)."""
    try:
        os.waitpid(pgid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        os.killpg(pgid, 0)
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
