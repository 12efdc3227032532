"""An AWS session factory that reads botocore's service descriptions once per process, not once per hook.

Every amazon-provider hook builds its own boto3 session, and each new session parses botocore's JSON data again on its
first client: ``endpoints.json`` and the service's model, about 0.1-0.3 s of CPU per client. A task of this
provider makes several clients (DynamoDB, S3, Glue, Athena), and ``airflow dags test`` runs every task of a run in
one process: there, a third of a run's CPU went to parsing the same files again. With this factory every session of
the process, synchronous and async (the triggerer's), reads through one shared botocore data loader (a cache of
parsed, read-only data; the amazon provider shares one among its async sessions only). Credentials, regions, roles
and clients stay per hook.

Turn it on in the Airflow configuration (the amazon provider's documented extension point):

    [aws]
    session_factory = ddb_lake.aws_session.SharedDataSessionFactory

or ``AIRFLOW__AWS__SESSION_FACTORY=ddb_lake.aws_session.SharedDataSessionFactory``. Without it, everything works as
before, only slower. A process that forks task processes (a LocalExecutor scheduler, a Celery worker) can parse the
data once before it forks, in ``airflow_local_settings.py``: ``parse_service_data()``.
"""

from __future__ import annotations

import threading
from typing import Any

import botocore.loaders
from airflow.providers.amazon.aws.hooks.base_aws import BaseSessionFactory

# the services a table DAG's tasks make clients for (sts: role assumption)
TASK_SERVICES = ("dynamodb", "s3", "glue", "athena", "sts")
_LOADERS: dict[str | None, botocore.loaders.Loader] = {}
_LOADERS_LOCK = threading.Lock()


def shared_data_loader(data_path: str | None) -> botocore.loaders.Loader:
    """The process's botocore data loader for ``data_path`` (``AWS_DATA_PATH``; None: botocore's own data)."""
    with _LOADERS_LOCK:
        if data_path not in _LOADERS:
            _LOADERS[data_path] = botocore.loaders.create_loader(data_path)
        return _LOADERS[data_path]


class SharedDataSessionFactory(BaseSessionFactory):
    """The amazon provider's session factory, with every session on the process's shared data loader."""

    def create_session(self, deferrable: bool = False) -> Any:
        session = super().create_session(deferrable=deferrable)
        # an aiobotocore session is a botocore session; boto3 keeps its botocore session in _session
        core = session if deferrable else session._session
        core.register_component("data_loader", shared_data_loader(core.get_config_variable("data_path")))
        return session


def parse_service_data(services: tuple[str, ...] = TASK_SERVICES, region_name: str = "us-east-1") -> None:
    """Parse botocore's endpoints and the ``services``' models into the shared loader now (clients are built and
    dropped; no call is made), so processes forked later find them parsed."""
    session = SharedDataSessionFactory(conn=None, region_name=region_name).create_session()
    for service in services:
        session.client(service)
