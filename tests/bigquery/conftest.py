"""Fixtures of the BigQuery tests: a snapshot on moto S3 and a fresh GCS bucket."""

from __future__ import annotations

import uuid

import pytest
from bq_snapshots import Snapshot, put_snapshot


@pytest.fixture
def snapshot_on_s3(moto_reset) -> Snapshot:
    return put_snapshot()


@pytest.fixture
def gcs_bucket(gcs_emulator_host, gcp_project) -> str:
    """A fresh, empty GCS bucket per test."""
    from airflow.providers.google.cloud.hooks.gcs import GCSHook

    name = f"lake-bq-{uuid.uuid4().hex[:10]}"
    GCSHook().get_conn().create_bucket(name, project=gcp_project)
    return name
