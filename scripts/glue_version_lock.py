"""A loopback proxy in front of moto's Glue that enforces UpdateTable's ``VersionId`` as AWS Glue does.

    python scripts/glue_version_lock.py --host 127.0.0.1 --port N --upstream http://127.0.0.1:MOTO_PORT

moto 5.2.5 accepts ``UpdateTable(VersionId=...)`` and ignores it (``moto/glue/responses.py`` never reads it), so a
stale update silently wins there. AWS Glue instead answers ``ConcurrentModificationException`` when the table's
version is no longer the one named. This proxy forwards every call to moto unchanged, except that it serialises
``AWSGlue.UpdateTable`` calls and, when one carries a ``VersionId``, first reads the table (``GetTable`` on moto) and
refuses the update with that error if the version differs. ``scripts/local_stack.py`` starts it with moto and routes
the ``glue`` service of ``aws_default`` through it (``service_config``); anything talking to moto directly bypasses it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_UPDATE_TABLE = "AWSGlue.UpdateTable"
_SKIPPED_HEADERS = {"host", "content-length", "connection", "transfer-encoding"}


class VersionLockHandler(BaseHTTPRequestHandler):
    """Forward to ``server.upstream``; check UpdateTable's VersionId under ``server.update_lock``."""

    server: VersionLockServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self._body()
        if self.headers.get("X-Amz-Target") == _UPDATE_TABLE:
            with self.server.update_lock:
                conflict = self._stale_version(body)
                if conflict:
                    self._answer(400, json.dumps({"__type": "ConcurrentModificationException", "message": conflict}),
                                 {"Content-Type": "application/x-amz-json-1.1",
                                  "x-amzn-ErrorType": "ConcurrentModificationException"})
                    return
                self._relay(body)
        else:
            self._relay(body)

    do_GET = do_PUT = do_DELETE = do_HEAD = do_POST

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _stale_version(self, body: bytes) -> str | None:
        """The error message when the request names a VersionId other than the table's current one, else None."""
        request = json.loads(body or b"{}")
        wanted = request.get("VersionId")
        if wanted is None:
            return None
        name = request.get("Name") or request.get("TableInput", {}).get("Name")
        lookup = {"DatabaseName": request.get("DatabaseName"), "Name": name}
        status, _, answer = self._call("POST", "/", json.dumps(lookup).encode(),
                                       {**self._forwarded_headers(), "X-Amz-Target": "AWSGlue.GetTable"})
        if status != 200:
            return None  # let moto answer the update itself (EntityNotFound and the like)
        current = json.loads(answer)["Table"].get("VersionId")
        if current == wanted:
            return None
        return (f"Update table failed due to concurrent modifications: {lookup['DatabaseName']}.{name} is at "
                f"version {current}, the update names version {wanted}")

    def _forwarded_headers(self) -> dict[str, str]:
        return {k: v for k, v in self.headers.items() if k.lower() not in _SKIPPED_HEADERS}

    def _call(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, list, bytes]:
        upstream = urlsplit(self.server.upstream)
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def _relay(self, body: bytes) -> None:
        status, headers, answer = self._call(self.command, self.path, body, self._forwarded_headers())
        kept = {k: v for k, v in headers if k.lower() not in _SKIPPED_HEADERS}
        self._answer(status, answer, kept)

    def _answer(self, status: int, body: bytes | str, headers: dict[str, str]) -> None:
        payload = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        return


class VersionLockServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], upstream: str) -> None:
        super().__init__(address, VersionLockHandler)
        self.upstream = upstream
        self.update_lock = threading.Lock()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="moto's URL")
    args = parser.parse_args(argv)
    VersionLockServer((args.host, args.port), args.upstream).serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
