"""A recording stand-in for the Storage Transfer Service REST API v1 on 127.0.0.1, for the tests' google client.

There is no local Storage Transfer Service. This server answers the calls ddb-lake makes, with the documented resource
shapes (``TransferJob``, ``Operation`` whose ``metadata`` is a ``TransferOperation``, ``TransferCounters`` as int64
strings, ``google.rpc.Status`` errors): ``transferJobs.create`` / ``get`` / ``patch`` / ``run`` and
``transferOperations.get``. An operation really copies the job's S3 folder (moto server) into its GCS folder (GCS
emulator) when it finishes, honouring ``objectConditions.includePrefixes`` (relative to the source path) and
``overwriteWhen`` (DIFFERENT: same size and MD5 = same object, skipped; NEVER; ALWAYS). Every request is recorded as
(method, path with query, JSON body).

Test knobs, not service behaviour: ``hold`` keeps new operations IN_PROGRESS until cleared; ``denied_keys`` makes
those S3 keys fail with PERMISSION_DENIED; ``polls_before_done`` is how many ``get`` calls see IN_PROGRESS first.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

OPERATION_TYPE = "type.googleapis.com/google.storagetransfer.v1.TransferOperation"
_JOB_NAME = re.compile(r"^transferJobs/(?!OPI)[A-Za-z0-9._~-]*[A-Za-z0-9]$")


@dataclass
class Recorded:
    method: str
    path: str
    body: Any


class ApiError(Exception):
    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


@dataclass
class StorageTransferStub:
    s3_client: Any
    gcs_client: Any
    polls_before_done: int = 1
    hold: bool = False
    denied_keys: set[str] = field(default_factory=set)
    requests: list[Recorded] = field(default_factory=list)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._polls: dict[str, int] = {}

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def start(self) -> StorageTransferStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep pytest output quiet
                return

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                try:
                    code, answer = stub.handle(self.command, self.path, body)
                except ApiError as exc:
                    code = exc.code
                    answer = {"error": {"code": exc.code, "message": exc.message, "status": exc.status}}
                data = json.dumps(answer).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- the API -------------------------------------------------------------------------------------------------
    def handle(self, method: str, raw_path: str, body: Any) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append(Recorded(method, raw_path, body))
            parts = urlsplit(raw_path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            path = parts.path
            if method == "POST" and path == "/v1/transferJobs":
                return 200, self.create_job(body)
            match = re.fullmatch(r"/v1/(transferJobs/[^:]+)(:run)?", path)
            if match and method == "GET":
                return 200, self.public(self.job(match[1], query.get("projectId")))
            if match and method == "PATCH":
                return 200, self.patch_job(match[1], body)
            if match and method == "POST" and match[2]:
                return 200, self.run_job(match[1], body)
            match = re.fullmatch(r"/v1/(transferOperations/.+)", path)
            if match and method == "GET":
                return 200, self.get_operation(match[1])
            raise ApiError(404, "NOT_FOUND", f"stub: no method for {method} {path}")

    def create_job(self, job: dict[str, Any]) -> dict[str, Any]:
        name = job.get("name", "")
        if not _JOB_NAME.match(name) or len(name) > 128:
            raise ApiError(400, "INVALID_ARGUMENT", f"Invalid job name {name!r}")
        if job.get("status") not in ("ENABLED", "DISABLED"):
            raise ApiError(400, "INVALID_ARGUMENT", "status must be specified")
        if name in self.jobs:
            raise ApiError(409, "ALREADY_EXISTS", f"Transfer job {name} already exists")
        now = _now()
        self.jobs[name] = {**job, "creationTime": now, "lastModificationTime": now}
        return self.public(self.jobs[name])

    def job(self, name: str, project_id: str | None) -> dict[str, Any]:
        job = self.jobs.get(name)
        if job is None or job["projectId"] != project_id:
            raise ApiError(404, "NOT_FOUND", f"Transfer job {name} not found in project {project_id}")
        return job

    def patch_job(self, name: str, request: dict[str, Any]) -> dict[str, Any]:
        job = self.job(name, request.get("projectId"))
        for field_name in request["updateTransferJobFieldMask"].split(","):
            job[field_name] = request["transferJob"][field_name]
        job["lastModificationTime"] = _now()
        return self.public(job)

    def run_job(self, name: str, request: dict[str, Any]) -> dict[str, Any]:
        job = self.job(name, request.get("projectId"))
        latest = self.operations.get(job.get("latestOperationName", ""))
        if latest is not None and not latest["done"]:
            raise ApiError(400, "FAILED_PRECONDITION", f"Transfer job {name} already has an active operation")
        op_name = f"transferOperations/{name.replace('/', '-')}-{len(self.operations) + 1}"
        operation = {
            "name": op_name,
            "projectId": job["projectId"],
            "transferJobName": name,
            "transferSpec": job["transferSpec"],
            "startTime": _now(),
            "status": "IN_PROGRESS",
            "counters": {},
        }
        self.operations[op_name] = {"done": False, "metadata": operation, "job": json.loads(json.dumps(job))}
        self._polls[op_name] = 0
        job["latestOperationName"] = op_name
        return self.operation_resource(op_name)

    def get_operation(self, name: str) -> dict[str, Any]:
        state = self.operations.get(name)
        if state is None:
            raise ApiError(404, "NOT_FOUND", f"Operation {name} not found")
        if not self.hold:  # a held operation makes no progress
            self._polls[name] += 1
        if not state["done"] and not self.hold and self._polls[name] > self.polls_before_done:
            state["metadata"] = {**state["metadata"], **self.copy(state["job"]), "endTime": _now()}
            state["done"] = True
        return self.operation_resource(name)

    def operation_resource(self, name: str) -> dict[str, Any]:
        state = self.operations[name]
        return {"name": name, "metadata": {"@type": OPERATION_TYPE, **state["metadata"]}, "done": state["done"]}

    @staticmethod
    def public(job: dict[str, Any]) -> dict[str, Any]:
        """A job as the API returns it: the secret access key is input only."""
        out = json.loads(json.dumps(job))
        out.get("transferSpec", {}).get("awsS3DataSource", {}).get("awsAccessKey", {}).pop("secretAccessKey", None)
        return out

    # --- what a run does -----------------------------------------------------------------------------------------
    def copy(self, job: dict[str, Any]) -> dict[str, Any]:
        """Copy the job's objects; return the finished TransferOperation's status, counters and errors."""
        spec = job["transferSpec"]
        source, sink = spec["awsS3DataSource"], spec["gcsDataSink"]
        includes = spec.get("objectConditions", {}).get("includePrefixes") or [""]
        bucket = self.gcs_client.bucket(sink["bucketName"])
        counts = dict.fromkeys(("Copied", "Skipped", "Failed"), (0, 0))
        errors: list[dict[str, Any]] = []
        pages = self.s3_client.get_paginator("list_objects_v2").paginate(
            Bucket=source["bucketName"], Prefix=source["path"]
        )
        for item in (obj for page in pages for obj in page.get("Contents", [])):
            relative = item["Key"][len(source["path"]) :]
            if not any(relative.startswith(prefix) for prefix in includes):
                continue
            size, etag = int(item["Size"]), item["ETag"].strip('"')
            if item["Key"] in self.denied_keys:
                errors.append({"url": f"s3://{source['bucketName']}/{item['Key']}", "errorDetails": ["Access Denied"]})
                outcome = "Failed"
            else:
                blob = bucket.get_blob(sink["path"] + relative)
                when = spec.get("transferOptions", {}).get("overwriteWhen", "DIFFERENT")
                same = blob is not None and blob.size == size and _md5_hex(blob.md5_hash) == etag
                same = {"ALWAYS": False, "NEVER": blob is not None}.get(when, same)
                if not same:
                    data = self.s3_client.get_object(Bucket=source["bucketName"], Key=item["Key"])["Body"].read()
                    bucket.blob(sink["path"] + relative).upload_from_string(data)
                outcome = "Skipped" if same else "Copied"
            objects, size_sum = counts[outcome]
            counts[outcome] = (objects + 1, size_sum + size)
        counters = {
            "objectsFoundFromSource": counts["Copied"][0] + counts["Failed"][0],
            "bytesFoundFromSource": counts["Copied"][1] + counts["Failed"][1],
            "objectsCopiedToSink": counts["Copied"][0],
            "bytesCopiedToSink": counts["Copied"][1],
            "objectsFromSourceSkippedBySync": counts["Skipped"][0],
            "bytesFromSourceSkippedBySync": counts["Skipped"][1],
            "objectsFromSourceFailed": counts["Failed"][0],
            "bytesFromSourceFailed": counts["Failed"][1],
        }
        final: dict[str, Any] = {
            "status": "FAILED" if errors else "SUCCESS",
            "counters": {name: str(value) for name, value in counters.items() if value},
        }
        if errors:
            final["errorBreakdowns"] = [
                {"errorCode": "PERMISSION_DENIED", "errorCount": str(len(errors)), "errorLogEntries": errors[:5]}
            ]
        return final


def _md5_hex(md5_b64: str | None) -> str:
    return base64.b64decode(md5_b64).hex() if md5_b64 else ""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
