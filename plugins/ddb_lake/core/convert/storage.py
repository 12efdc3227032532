"""Local and ``s3://`` access for the converter: list, open for reading, upload, delete.

``storage_options`` follow fsspec/s3fs naming (``key``, ``secret``, ``token``,
``client_kwargs={"endpoint_url", "region_name"}``) and are mapped onto one boto3 S3 client, built lazily.
"""

from __future__ import annotations

import os
import shutil
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


@dataclass
class Storage:
    """File operations over local paths and ``s3://`` URLs, with one lazily built S3 client."""

    storage_options: dict[str, Any] | None = None
    _client: Any = field(default=None, init=False, repr=False)

    @property
    def s3(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.session.Session().client("s3", **boto3_client_kwargs(self.storage_options))
        return self._client

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

    def upload(self, local_file: Path, url: str) -> None:
        bucket, key = split_s3(url)
        self.s3.upload_file(str(local_file), bucket, key)

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


def replace_local_dir(staged: Path, dest: Path) -> None:
    """Swap ``staged`` into ``dest``: the old ``dest`` (if any) is set aside and removed only after the swap."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    aside = dest.with_name(f".{dest.name}.replaced-{os.getpid()}")
    if dest.exists():
        os.replace(dest, aside)
    try:
        os.replace(staged, dest)
    except BaseException:
        if aside.exists():
            os.replace(aside, dest)
        raise
    shutil.rmtree(aside, ignore_errors=True)
