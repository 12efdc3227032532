"""The converter's S3 access: a ready client is used as is, and crosses to worker processes as a fresh recipe."""

from __future__ import annotations

import itertools
import pickle
from datetime import UTC, datetime, timedelta

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.credentials import CredentialProvider, RefreshableCredentials

from ddb_lake.core.convert.storage import Storage, boto3_client_kwargs

CONFIG = Config(user_agent_extra="ddb-lake-test", retries={"max_attempts": 7, "mode": "adaptive"})


def frozen(client) -> tuple:
    credentials = client._get_credentials().get_frozen_credentials()
    return credentials.access_key, credentials.secret_key, credentials.token


def test_a_ready_client_is_used_as_is():
    client = boto3.client("s3", region_name="eu-west-1", aws_access_key_id="AK", aws_secret_access_key="SK")
    assert Storage(s3_client=client).s3 is client
    assert Storage({"key": "AK"}, s3_client=client).s3 is client


def test_a_pickled_storage_rebuilds_the_client_with_endpoint_region_config_and_credentials():
    client = boto3.client(
        "s3", region_name="eu-west-1", endpoint_url="http://127.0.0.1:5999", config=CONFIG,
        aws_access_key_id="AK", aws_secret_access_key="SK", aws_session_token="TOKEN",
    )
    restored = pickle.loads(pickle.dumps(Storage(s3_client=client)))
    assert restored.s3_client is None
    options = restored.storage_options
    assert {k: v for k, v in options.items() if k != "client_kwargs"} == {"key": "AK", "secret": "SK", "token": "TOKEN"}
    assert sorted(options["client_kwargs"]) == ["config", "endpoint_url", "region_name"]
    rebuilt = restored.s3
    assert rebuilt is not client
    assert (rebuilt.meta.endpoint_url, rebuilt.meta.region_name) == ("http://127.0.0.1:5999", "eu-west-1")
    assert "ddb-lake-test" in rebuilt.meta.config.user_agent_extra
    # botocore normalises max_attempts=7 (retries) to total_max_attempts=8 (tries); the rebuilt client has the same
    assert rebuilt.meta.config.retries == client.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 8}
    assert frozen(rebuilt) == ("AK", "SK", "TOKEN")


def test_a_default_endpoint_is_left_to_botocore_so_addressing_stays_virtual_hosted():
    client = boto3.client("s3", region_name="eu-west-1", aws_access_key_id="AK", aws_secret_access_key="SK")
    restored = pickle.loads(pickle.dumps(Storage(s3_client=client)))
    assert "endpoint_url" not in restored.storage_options["client_kwargs"]
    url = restored.s3.generate_presigned_url("get_object", Params={"Bucket": "lake", "Key": "k"})
    assert url.startswith("https://lake.s3.amazonaws.com/k?")
    assert url.split("?")[0] == client.generate_presigned_url(
        "get_object", Params={"Bucket": "lake", "Key": "k"}
    ).split("?")[0]


class _Rotating(CredentialProvider):
    """Credentials that expire within botocore's refresh window, so every use refreshes them (key AK1, AK2, ...)."""

    METHOD = "test-rotating"

    def __init__(self):
        super().__init__()
        self.numbers = itertools.count(1)

    def fetch(self) -> dict:
        expiry = datetime.now(UTC) + timedelta(minutes=5)
        number = next(self.numbers)
        return {"access_key": f"AK{number}", "secret_key": f"SK{number}", "token": f"T{number}",
                "expiry_time": expiry.isoformat()}

    def load(self):
        return RefreshableCredentials.create_from_metadata(self.fetch(), self.fetch, self.METHOD)


def test_each_worker_task_gets_the_credentials_current_when_it_is_sent():
    core = botocore.session.get_session()
    core.get_component("credential_provider").insert_before("env", _Rotating())
    client = boto3.session.Session(botocore_session=core).client("s3", region_name="us-east-1")
    storage = Storage(s3_client=client)
    first = pickle.loads(pickle.dumps(storage)).storage_options
    second = pickle.loads(pickle.dumps(storage)).storage_options
    assert (first["key"], first["token"]) == ("AK2", "T2")  # AK1 was expiring when first used: refreshed
    assert (second["key"], second["token"]) == ("AK3", "T3")


def test_storage_options_alone_pickle_unchanged():
    options = {"key": "AK", "secret": "SK", "client_kwargs": {"endpoint_url": "http://127.0.0.1:5999"}}
    assert pickle.loads(pickle.dumps(Storage(options))).storage_options == options
    assert boto3_client_kwargs(options) == {
        "endpoint_url": "http://127.0.0.1:5999", "aws_access_key_id": "AK", "aws_secret_access_key": "SK",
    }


def test_options_without_keys_send_the_credentials_this_process_found(monkeypatch):
    """The CLI's path: credentials from this process's environment travel to the workers, which may not see it."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-env")
    options = {"client_kwargs": {"endpoint_url": "http://127.0.0.1:9", "region_name": "eu-west-1"}}
    sent = pickle.loads(pickle.dumps(Storage(storage_options=options))).storage_options
    assert (sent["key"], sent["secret"]) == ("AKENV", "secret-env")
    assert sent["client_kwargs"]["endpoint_url"] == "http://127.0.0.1:9"
    assert sent["client_kwargs"]["region_name"] == "eu-west-1"
    explicit = {"key": "AK1", "secret": "s1", **options}
    assert pickle.loads(pickle.dumps(Storage(storage_options=explicit))).storage_options == explicit


def test_a_worker_reuses_its_client_for_every_task_sent_with_the_same_options():
    """Each write task brings its Storage as options: one client per process and options, not one per task."""
    options = {"key": "AKIA1", "secret": "s", "client_kwargs": {"endpoint_url": "http://127.0.0.1:1",
                                                                 "region_name": "eu-west-1"}}
    first, second = (pickle.loads(pickle.dumps(Storage(options))) for _ in range(2))
    assert first.s3 is second.s3
    refreshed = pickle.loads(pickle.dumps(Storage({**options, "key": "AKIA2"})))
    assert refreshed.s3 is not first.s3 and refreshed.s3.meta.region_name == "eu-west-1"


def test_local_only_storage_is_sent_without_building_a_client():
    """A conversion of local files hands its workers a Storage that resolves nothing (no S3 client, no probe)."""
    storage = Storage(local_only=True)
    sent = pickle.loads(pickle.dumps(storage))
    assert sent.local_only and sent.storage_options is None and storage._client is None
    with pytest.raises(ValueError, match="local paths only"):
        sent.list_files("s3://bucket/prefix/")
