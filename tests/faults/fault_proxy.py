"""A loopback HTTP proxy that injects faults between ddb-lake's AWS clients and the local stack.

    proxy = FaultProxy(upstreams={"glue": glue_url, "athena": athena_url}, default=moto_url).start()
    proxy.add(Rule("dynamodb:DescribeExport", "fail", times=None))      # every DescribeExport answers 500
    proxy.add(Rule(r"s3:PUT /lake/.*\\.parquet", "slowdown", times=3))   # the first 3 Parquet PUTs answer 503
    proxy.calls["dynamodb:ListExports"]                                  # how many ListExports went through

A call is named ``<service>:<Operation>`` from its ``X-Amz-Target`` header (``DynamoDB_20120810.DescribeExport`` ->
``dynamodb:DescribeExport``, ``AWSGlue.UpdateTable`` -> ``glue:UpdateTable``, ``AmazonAthena.X`` -> ``athena:X``) or,
for S3 (no target), ``s3:<METHOD> <path>?<query>``. A rule's ``match`` is a regular expression searched in that name.
Actions, each applied to the matching calls after the first ``after`` and for ``times`` calls (None: all):
``throttle`` (400 ThrottlingException; S3: 503 SlowDown), ``slowdown`` (503 SlowDown), ``fail`` (500
InternalServerError / S3 InternalError), ``reset`` (the TCP connection is reset: before the call reaches the service,
or with ``after_forward=True`` after the service handled it and before the client sees the answer), ``hold`` (the call
waits ``seconds``, or until ``release`` is set, then goes through; with ``drop=True`` it is reset instead, as a call
in flight from a killed process), ``rewrite`` (the service's answer goes through ``transform(bytes) -> bytes``: a
copy that disagrees). Everything else is forwarded unchanged: JSON
targets of Glue and Athena go to their own upstream (the Glue VersionId lock, the Athena stand-in), all else to moto.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

SERVICES = {"DynamoDB_20120810": "dynamodb", "DynamoDBStreams_20120810": "dynamodbstreams", "AWSGlue": "glue",
            "AmazonAthena": "athena"}
ACTIONS = ("throttle", "slowdown", "fail", "reset", "hold", "rewrite")
HOP_HEADERS = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer"}


@dataclass
class Rule:
    """Fault ``action`` on calls whose name matches ``match`` (a regex), skipping ``after``, for ``times`` calls."""

    match: str
    action: str
    times: int | None = 1
    after: int = 0
    seconds: float = 0.0
    after_forward: bool = False
    release: threading.Event | None = None
    drop: bool = False
    transform: Callable[[bytes], bytes] | None = None
    seen: int = 0  # matching calls so far
    hits: int = 0  # calls that got the fault
    held: threading.Event = field(default_factory=threading.Event)  # set once a call is being held

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown fault action {self.action!r}; one of {ACTIONS}")

    def take(self, name: str) -> bool:
        """Whether this call gets the fault (counts it)."""
        if not re.search(self.match, name):
            return False
        self.seen += 1
        if self.seen <= self.after or (self.times is not None and self.hits >= self.times):
            return False
        self.hits += 1
        return True


def call_name(method: str, path: str, headers) -> str:
    target = headers.get("X-Amz-Target")
    if target and "." in target:
        prefix, operation = target.split(".", 1)
        return f"{SERVICES.get(prefix, prefix.lower())}:{operation}"
    return f"s3:{method} {path}"


class FaultProxy:
    """The proxy server (a thread of the test process) with its rules and counters."""

    def __init__(self, default: str, upstreams: dict[str, str] | None = None) -> None:
        self.default = default
        self.upstreams = dict(upstreams or {})
        self.rules: list[Rule] = []
        self.calls: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()  # "<action> <call name>" -> times injected
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None, "start() the proxy first"
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(_ProxyHandler):
            owner = proxy

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="fault-proxy", daemon=True).start()
        return self

    def stop(self) -> None:
        self.clear()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def add(self, rule: Rule) -> Rule:
        with self.lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Drop every rule (held calls are released) and zero the counters."""
        with self.lock:
            for rule in self.rules:
                if rule.release is not None:
                    rule.release.set()
            self.rules.clear()
            self.calls.clear()
            self.faults.clear()

    def decide(self, name: str) -> Rule | None:
        with self.lock:
            self.calls[name] += 1
            for rule in self.rules:
                if rule.take(name):
                    self.faults[f"{rule.action} {name}"] += 1
                    return rule
        return None

    def upstream_for(self, name: str) -> str:
        return self.upstreams.get(name.split(":", 1)[0], self.default)

    def injected(self) -> int:
        return sum(self.faults.values())


class _ProxyHandler(BaseHTTPRequestHandler):
    owner: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:
        return

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self) -> None:
        body = self._body()
        name = call_name(self.command, self.path, self.headers)
        rule = self.owner.decide(name)
        if rule is not None and rule.action == "hold":
            rule.held.set()
            if rule.release is not None:
                rule.release.wait(rule.seconds or 120)
            else:
                time.sleep(rule.seconds)
            if rule.drop:
                self._reset()
                return
        elif rule is not None and rule.action != "rewrite" and not (rule.action == "reset" and rule.after_forward):
            self._fault(rule, name)
            return
        status, headers, answer = self._forward(name, body)
        if rule is not None and rule.action == "reset":
            self._reset()
            return
        if rule is not None and rule.action == "rewrite" and rule.transform is not None:
            answer = rule.transform(answer)
        self.send_response(status)
        head = self.command == "HEAD"  # a HEAD answer has no body but the object's Content-Length
        for key, value in headers:
            if key.lower() not in HOP_HEADERS and (head or key.lower() != "content-length"):
                self.send_header(key, value)
        if not head:
            self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _handle

    def _forward(self, name: str, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        upstream = urlsplit(self.owner.upstream_for(name))
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=300)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
        headers["Content-Length"] = str(len(body))
        try:
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def _fault(self, rule: Rule, name: str) -> None:
        if rule.action == "reset":
            self._reset()
            return
        s3 = name.startswith("s3:")
        if rule.action == "slowdown" or (rule.action == "throttle" and s3):
            status, code, message = 503, "SlowDown", "Please reduce your request rate."
        elif rule.action == "throttle":
            status, code, message = 400, "ThrottlingException", "Rate exceeded"
        else:
            status, code, message = 500, "InternalError" if s3 else "InternalServerError", "injected fault"
        if s3:
            answer = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}"
                      f"</Message><RequestId>fault</RequestId></Error>").encode()
            content_type = "application/xml"
        else:
            answer = json.dumps({"__type": code, "message": message}).encode()
            content_type = "application/x-amz-json-1.1"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer)

    def _reset(self) -> None:
        """Close with SO_LINGER 0: the client sees ECONNRESET."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()
