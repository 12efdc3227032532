"""Local and ``s3://`` access for the converter: list, open for reading, upload, delete.

S3 goes through one client: either a ready one (``s3_client``, e.g. an Airflow hook's, whose credentials refresh and
which carries the connection's endpoint and botocore config), or one built lazily from ``storage_options`` in
fsspec/s3fs naming (``key``, ``secret``, ``token``, ``client_kwargs={"endpoint_url", "region_name", ...}``), as the
CLI does. A :class:`Storage` sent to a worker process travels as ``storage_options`` (see :func:`client_options`).
"""

from __future__ import annotations

import os
import pickle
import shutil
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlparse


def is_s3(url: str) -> bool:
    return url.startswith("s3://")


def split_s3(url: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> ``("bucket", "a/b")``."""
    parsed = urlparse(url)
    return parsed.netloc, parsed.path.lstrip("/")


def split_url(url: str, scheme: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key), strictly: raises on another scheme or a missing key."""
    prefix = f"{scheme}://"
    if not url.startswith(prefix) or "/" not in url[len(prefix) :]:
        raise ValueError(f"expected a {prefix}bucket/key URL, got {url!r}")
    bucket, key = url[len(prefix) :].split("/", 1)
    return bucket, key


def local_path(url: str) -> Path:
    return Path(url[len("file://"):] if url.startswith("file://") else url)


def join_url(base: str, *parts: str) -> str:
    out = base.rstrip("/")
    for part in parts:
        out = f"{out}/{part.strip('/')}"
    return out


def boto3_client_kwargs(storage_options: dict[str, Any] | None) -> dict[str, Any]:
    """Map fsspec/s3fs-style options onto ``boto3.client("s3", **kwargs)`` arguments."""
    options = dict(storage_options or {})
    client_kwargs = dict(options.pop("client_kwargs", None) or {})
    renames = {"key": "aws_access_key_id", "secret": "aws_secret_access_key", "token": "aws_session_token",
               "endpoint_url": "endpoint_url", "region_name": "region_name"}
    for ours, theirs in renames.items():
        if options.get(ours) is not None:
            client_kwargs.setdefault(theirs, options[ours])
    return client_kwargs


def client_options(client: Any, default_endpoint: str | None) -> dict[str, Any]:
    """``storage_options`` that rebuild ``client`` in another process: endpoint, region, botocore config, credentials.

    The credentials are the client's current ones, frozen (refreshed first when about to expire): botocore offers
    no public accessor, so they are read with ``client._get_credentials()``. The endpoint is kept only when it differs
    from ``default_endpoint`` (what botocore resolves for the region by itself), so that a default endpoint keeps its
    virtual-hosted addressing. ``verify`` is not carried (botocore does not expose it either).
    """
    client_kwargs: dict[str, Any] = {"region_name": client.meta.region_name, "config": client.meta.config}
    if client.meta.endpoint_url != default_endpoint:
        client_kwargs["endpoint_url"] = client.meta.endpoint_url
    options: dict[str, Any] = {"client_kwargs": client_kwargs}
    credentials = client._get_credentials()
    if credentials is not None:
        frozen = credentials.get_frozen_credentials()
        options.update(key=frozen.access_key, secret=frozen.secret_key, token=frozen.token)
    return options


def default_s3_endpoint(region_name: str | None, config: Any) -> str:
    """The endpoint botocore resolves for an S3 client of this region and config when given none."""
    import boto3

    probe = boto3.session.Session().client(
        "s3", region_name=region_name, config=config, aws_access_key_id="probe", aws_secret_access_key="probe"
    )
    return probe.meta.endpoint_url


@dataclass
class Storage:
    """File operations over local paths and ``s3://`` URLs, through a ready S3 client or one built lazily.

    Pickled (to a worker process), a Storage becomes its ``storage_options``; with a ready client, these are taken
    from it at that moment (:func:`client_options`), so each worker task gets credentials fresh when it is sent.
    """

    storage_options: dict[str, Any] | None = None
    s3_client: Any = None
    local_only: bool = False  # local paths only: sent to a worker with no S3 client built to resolve credentials
    _client: Any = field(default=None, init=False, repr=False)
    _default_endpoint: str | None = field(default=None, init=False, repr=False)

    @property
    def s3(self) -> Any:
        if self.local_only:
            raise ValueError("this Storage handles local paths only (Storage(local_only=True)); an s3:// URL needs "
                             "a Storage with storage_options or an s3_client")
        if self.s3_client is not None:
            return self.s3_client
        if self._client is None:
            self._client = _client_for(self.storage_options)
        return self._client

    def worker_options(self) -> dict[str, Any] | None:
        """``storage_options`` for a client of the same account, endpoint and config in another process.

        Credentials are resolved here, in this process, unless the options name them: a worker process may not see
        the environment or profile this process found them in (a forkserver started before they were set).
        """
        if self.s3_client is None and (self.storage_options or {}).get("key"):
            return self.storage_options
        client = self.s3
        if self._default_endpoint is None:
            self._default_endpoint = default_s3_endpoint(client.meta.region_name, client.meta.config)
        return client_options(client, self._default_endpoint)

    def __getstate__(self) -> dict[str, Any]:
        if self.local_only:
            return {"storage_options": None, "local_only": True}
        return {"storage_options": self.worker_options()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.storage_options = state["storage_options"]
        self.local_only = state.get("local_only", False)
        self.s3_client = None
        self._client = None
        self._default_endpoint = None

    def list_names(self, url: str) -> list[str]:
        """Every file under the folder ``url`` (recursive), as names relative to it with ``/`` separators, sorted."""
        if is_s3(url):
            prefix = split_s3(url)[1].rstrip("/")
            prefix = prefix + "/" if prefix else ""
            return sorted(split_s3(found)[1][len(prefix):] for found in self.list_files(url))
        root = local_path(url)
        return sorted(Path(found).relative_to(root).as_posix() for found in self.list_files(url))

    def read_text(self, url: str) -> str | None:
        """The file's text (UTF-8), or None when it does not exist."""
        try:
            return self.read_bytes(url).decode("utf-8", errors="replace")
        except FileNotFoundError:
            return None

    def list_files(self, url: str) -> list[str]:
        """Every file under ``url`` (recursive), as full paths/URLs, sorted."""
        if is_s3(url):
            bucket, prefix = split_s3(url)
            prefix = prefix.rstrip("/") + "/" if prefix else ""
            keys = []
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                keys.extend(obj["Key"] for obj in page.get("Contents", ()))
            return sorted(f"s3://{bucket}/{k}" for k in keys)
        root = local_path(url)
        if not root.exists():
            return []
        return sorted(str(p) for p in root.rglob("*") if p.is_file())

    def exists(self, url: str) -> bool:
        if is_s3(url):
            bucket, key = split_s3(url)
            try:
                self.s3.head_object(Bucket=bucket, Key=key)
            except self.s3.exceptions.ClientError as err:
                if err.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return False
                raise
            return True
        return local_path(url).is_file()

    def open_read(self, url: str) -> IO[bytes]:
        """A binary stream of the file's bytes (S3: the streaming body, read in chunks)."""
        if is_s3(url):
            bucket, key = split_s3(url)
            try:
                return self.s3.get_object(Bucket=bucket, Key=key)["Body"]
            except self.s3.exceptions.NoSuchKey as err:
                raise FileNotFoundError(url) from err
        return open(local_path(url), "rb")

    def read_bytes(self, url: str) -> bytes:
        with self.open_read(url) as stream:
            return stream.read()

    def size(self, url: str) -> int:
        if is_s3(url):
            bucket, key = split_s3(url)
            return int(self.s3.head_object(Bucket=bucket, Key=key)["ContentLength"])
        return local_path(url).stat().st_size

    def sizes(self, urls: list[str]) -> dict[str, int]:
        """The size of each file in ``urls`` (S3: one listing per folder, a HEAD only for what it misses)."""
        if not urls or not is_s3(urls[0]):
            return {url: local_path(url).stat().st_size for url in urls}
        found: dict[str, int] = {}
        for folder in sorted({url.rsplit("/", 1)[0] for url in urls}):
            bucket, prefix = split_s3(folder)
            pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix.rstrip("/") + "/")
            for page in pages:
                found.update((f"s3://{bucket}/{obj['Key']}", int(obj["Size"])) for obj in page.get("Contents", ()))
        return {url: found[url] if url in found else self.size(url) for url in urls}

    def copy(self, source_url: str, url: str) -> None:
        """Copy a file whole: S3 server-side (multipart past 5 GB), or a local copy renamed into place."""
        if is_s3(url):
            bucket, key = split_s3(url)
            source_bucket, source_key = split_s3(source_url)
            self.s3.copy({"Bucket": source_bucket, "Key": source_key}, bucket, key)
            return
        target = local_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = target.with_name(f".{target.name}.copying")
        shutil.copyfile(local_path(source_url), staged)
        os.replace(staged, target)

    def put_copy(self, local_file: Path, url: str) -> None:
        """Place a copy of ``local_file`` at ``url`` (``local_file`` stays); a reader never sees half a file."""
        if is_s3(url):
            self.upload(local_file, url)
            return
        self.copy(str(local_file), url)

    def download(self, url: str, local_file: Path) -> None:
        bucket, key = split_s3(url)
        self.s3.download_file(bucket, key, str(local_file))

    def upload(self, local_file: Path, url: str) -> None:
        bucket, key = split_s3(url)
        self.s3.upload_file(str(local_file), bucket, key)

    def put(self, local_file: Path, url: str) -> None:
        """Place ``local_file`` at ``url`` whole: an S3 upload, or a local rename (a reader never sees half a file).

        A local ``local_file`` must be on the destination's file system (e.g. staged in a sibling folder).
        """
        if is_s3(url):
            self.upload(local_file, url)
            return
        target = local_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(local_file, target)

    def delete(self, urls: list[str]) -> None:
        if not urls:
            return
        if is_s3(urls[0]):
            bucket = split_s3(urls[0])[0]
            keys = [split_s3(u)[1] for u in urls]
            for start in range(0, len(keys), 1000):
                batch = [{"Key": k} for k in keys[start:start + 1000]]
                self.s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            return
        for url in urls:
            local_path(url).unlink(missing_ok=True)



_CLIENTS: dict[bytes, Any] = {}  # this process's S3 clients by their storage_options (a worker gets one per task)
KEPT_CLIENTS = 4


def _client_for(storage_options: dict[str, Any] | None) -> Any:
    """An S3 client for ``storage_options``: the one this process built for the same options, else a new one.

    A pool worker receives its Storage with every task (as options, credentials frozen when sent): without this it
    would build a client (tens of milliseconds) for each task, and each task places its parts in S3. Options that
    differ (credentials refreshed) get a client of their own.
    """
    import boto3

    try:
        key = pickle.dumps(storage_options)
    except (pickle.PicklingError, TypeError, AttributeError):
        key = None
    if key is not None and key in _CLIENTS:
        return _CLIENTS[key]
    client = boto3.session.Session().client("s3", **boto3_client_kwargs(storage_options))
    if key is not None:
        if len(_CLIENTS) >= KEPT_CLIENTS:
            _CLIENTS.pop(next(iter(_CLIENTS)))
        _CLIENTS[key] = client
    return client


def gzip_ratio(storage: Storage, url: str, sample_bytes: int = 1 << 20) -> float:
    """Uncompressed / compressed size of the first ``sample_bytes`` of a gzip file (1.0 when it cannot be told)."""
    with storage.open_read(url) as stream:
        head = stream.read(sample_bytes)
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = len(inflater.decompress(head))
    except zlib.error:
        return 1.0
    used = len(head) - len(inflater.unconsumed_tail) - len(inflater.unused_data)
    return max(out / used, 1.0) if used > 0 and out else 1.0
