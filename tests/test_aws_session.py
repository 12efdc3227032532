"""The AWS session factory that shares botocore's parsed service data across the sessions of a process."""

from __future__ import annotations

from airflow.providers.amazon.aws.hooks.base_aws import BaseSessionFactory

from ddb_lake.aws_session import TASK_SERVICES, SharedDataSessionFactory, parse_service_data, shared_data_loader


def _session(factory: type[BaseSessionFactory], region: str):
    return factory(conn=None, region_name=region).create_session()


def test_sessions_share_one_data_loader_and_keep_their_own_region(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_DATA_PATH", raising=False)
    first, second = _session(SharedDataSessionFactory, "us-east-1"), _session(SharedDataSessionFactory, "eu-west-1")
    assert first is not second and first._session is not second._session
    loader = first._session.get_component("data_loader")
    assert loader is second._session.get_component("data_loader") is shared_data_loader(None)
    # clients are built from it, each with its session's region; the endpoints file is parsed once for both
    assert first.client("dynamodb").meta.region_name == "us-east-1"
    assert second.client("dynamodb").meta.region_name == "eu-west-1"
    assert ("load_data_with_path", "endpoints") in {key[:2] for key in loader._cache}
    # the amazon provider's own factory gives each session its own loader: the data is parsed again per hook
    plain = _session(BaseSessionFactory, "us-east-1")._session.get_component("data_loader")
    assert plain is not loader and plain is not _session(BaseSessionFactory, "us-east-1")._session.get_component(
        "data_loader")


def test_an_aws_data_path_gets_a_loader_of_its_own(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    loader = _session(SharedDataSessionFactory, "us-east-1")._session.get_component("data_loader")
    assert loader is shared_data_loader(str(tmp_path)) and loader is not shared_data_loader(None)
    assert str(tmp_path) in loader.search_paths


def test_async_sessions_read_through_the_same_loader(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_DATA_PATH", raising=False)
    session = SharedDataSessionFactory(conn=None, region_name="us-east-1").create_session(deferrable=True)
    assert type(session).__module__.startswith("aiobotocore")
    assert session.get_component("data_loader") is shared_data_loader(None)


def test_service_data_parsed_ahead_is_what_later_clients_read(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_DATA_PATH", raising=False)
    parse_service_data()
    parsed = {key[1] for key in shared_data_loader(None)._cache if key[0] == "load_service_model"}
    assert set(TASK_SERVICES) <= parsed
