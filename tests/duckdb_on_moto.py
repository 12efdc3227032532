"""DuckDB reading ``s3://`` from moto server: the real local engine tests run lake SQL on (httpfs is unavailable)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import duckdb
import s3fs


@contextlib.contextmanager
def duckdb_on_moto(endpoint_url: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection whose ``s3://`` reads go to moto at ``endpoint_url`` through fsspec."""
    connection = duckdb.connect()
    fs = s3fs.S3FileSystem(
        key="testing",
        secret="testing",
        client_kwargs={"endpoint_url": endpoint_url, "region_name": "us-east-1"},
        skip_instance_cache=True,  # a cached instance would remember file sizes from an earlier test
    )
    connection.register_filesystem(fs)
    try:
        yield connection
    finally:
        connection.close()
