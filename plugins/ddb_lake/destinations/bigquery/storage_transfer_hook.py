"""One Storage Transfer Service job per snapshot, through the google provider's ``CloudDataTransferServiceHook``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from ddb_lake.compat import AirflowException, BaseHook
from ddb_lake.core.errors import ConfigError, ServiceError, service_error
from ddb_lake.destinations.bigquery.transfer_job import (
    ACTIVE_STATUSES,
    FAILED_STATUSES,
    operation_counters,
    operation_errors,
    operation_status,
    update_request,
)

DEFAULT_POLL_SECONDS = 10.0


@dataclass(frozen=True)
class TransferRun:
    """The job a snapshot's transfer ran under and its finished operation; ``how`` is ``created``, ``rerun`` or
    ``reattached`` (an earlier try's operation was still running)."""

    job_name: str
    operation: dict[str, Any]
    how: str
    generation: int


@cache
def _endpoint_hook_class() -> type:
    """``CloudDataTransferServiceHook`` that builds its discovery client for a given API endpoint, when one is set.

    The provider's ``get_conn()`` asks ``get_client_options()`` for the endpoint; an override is how a Private Service
    Connect endpoint (``https://storagetransfer-<name>.p.googleapis.com/``) or a local stand-in is reached.
    Imported on first use: the provider module pulls in the gRPC client (~2 s), which DAG parsing should not pay.
    """
    from airflow.providers.google.cloud.hooks.cloud_storage_transfer_service import CloudDataTransferServiceHook

    class EndpointCloudDataTransferServiceHook(CloudDataTransferServiceHook):
        def __init__(self, *args: Any, api_endpoint: str | None = None, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.api_endpoint = api_endpoint

        def get_client_options(self, api_endpoint_override: str | None = None) -> Any:
            return super().get_client_options(api_endpoint_override or self.api_endpoint)

    return EndpointCloudDataTransferServiceHook


def _http_status(exc: Exception) -> int | None:
    resp = getattr(exc, "resp", None)
    return int(resp.status) if resp is not None and getattr(resp, "status", None) else None


def api_error(exc: Exception) -> ServiceError:
    """An HTTP error of the Storage Transfer API sorted by its status (``PERMISSION_DENIED`` terminal, 5xx retried)."""
    try:
        reason = json.loads(getattr(exc, "content", b"") or b"{}").get("error", {}).get("status")
    except (ValueError, AttributeError):
        reason = None
    return service_error("Storage Transfer Service", reason, str(exc), _http_status(exc))


class StorageTransferHook(BaseHook):
    """Create (or find) a snapshot's transfer job, start or reattach to its operation, wait for it, report errors.

    :param api_endpoint: e.g. a Private Service Connect endpoint; the default is the public API.
    """

    def __init__(
        self,
        gcp_conn_id: str = "google_cloud_default",
        aws_conn_id: str | None = "aws_default",
        api_endpoint: str | None = None,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        impersonation_chain: str | Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        self.gcp_conn_id = gcp_conn_id
        self.aws_conn_id = aws_conn_id
        self.api_endpoint = api_endpoint
        self.poll_seconds = poll_seconds
        self.impersonation_chain = impersonation_chain

    @cached_property
    def provider_hook(self) -> Any:
        return _endpoint_hook_class()(
            gcp_conn_id=self.gcp_conn_id, impersonation_chain=self.impersonation_chain, api_endpoint=self.api_endpoint
        )

    @property
    def project_id(self) -> str | None:
        return self.provider_hook.project_id

    def aws_access_key(self) -> tuple[str, str]:
        """(access key id, secret) of the AWS connection; the service cannot use temporary (session) credentials."""
        from ddb_lake.hooks.lake_storage import LakeStorageHook

        credentials = LakeStorageHook(aws_conn_id=self.aws_conn_id).get_credentials()
        if credentials.token:
            raise ConfigError(
                f"AWS connection {self.aws_conn_id!r} gives temporary credentials (a session token); Storage Transfer "
                "Service takes only a long-lived access key. Pass storage_transfer_role_arn (federated, preferred) "
                "or use a connection with a plain access key."
            )
        if not credentials.access_key or not credentials.secret_key:
            raise ConfigError(
                f"AWS connection {self.aws_conn_id!r} has no access key for Storage Transfer Service"
            )
        return credentials.access_key, credentials.secret_key

    def find_job(self, job_name: str, project_id: str) -> dict[str, Any] | None:
        from googleapiclient.errors import HttpError

        try:
            return self.provider_hook.get_transfer_job(job_name=job_name, project_id=project_id)
        except HttpError as exc:
            if _http_status(exc) == 404:
                return None
            raise api_error(exc) from exc

    def create_job(self, job: dict[str, Any]) -> dict[str, Any] | None:
        """Create the job; None when its name is taken (409 ALREADY_EXISTS: an earlier try or another worker)."""
        from googleapiclient.errors import HttpError

        api = self.provider_hook
        try:
            created = api.get_conn().transferJobs().create(body=job).execute(num_retries=api.num_retries)
        except HttpError as exc:
            if _http_status(exc) == 409:
                return None
            raise api_error(exc) from exc
        self.log.info("Created transfer job %s", created["name"])
        return created

    def start_operation(self, job: dict[str, Any]) -> str:
        """``transferJobs.run``; returns the new operation's name, or the active one's when the job already runs."""
        from googleapiclient.errors import HttpError

        try:
            started = self.provider_hook.run_transfer_job(job_name=job["name"], project_id=job["projectId"])
        except HttpError as exc:
            found = self.find_job(job["name"], job["projectId"]) or {}
            latest = found.get("latestOperationName")
            if _http_status(exc) in (400, 409) and latest and self.operation_is_active(latest):
                self.log.info("Transfer job %s already runs operation %s; reattaching", job["name"], latest)
                return latest
            raise api_error(exc) from exc
        self.log.info("Started operation %s of transfer job %s", started["name"], job["name"])
        return started["name"]

    def operation_is_active(self, operation_name: str) -> bool:
        operation = self.provider_hook.get_transfer_operation(operation_name=operation_name)
        return not operation.get("done") and operation_status(operation) in ACTIVE_STATUSES | {"STATUS_UNSPECIFIED"}

    def run_snapshot_job(
        self, job_for: Callable[[int], dict[str, Any]], timeout: float, max_generations: int = 10
    ) -> TransferRun:
        """Run the snapshot's job once and wait for it; a retry reuses the job and never creates a second one.

        Generation 1's name is tried first. No job of that name: create it and run it. A job whose latest operation
        still runs: reattach to that operation. A job whose latest operation finished (or that never ran): patch it
        to the current spec (fresh credentials) and run it again; files already in the sink are skipped
        (``overwriteWhen: DIFFERENT``), so nothing is copied twice. A soft-deleted job (its name is kept for 30
        days) moves on to the next generation's name.
        """
        for generation in range(1, max_generations + 1):
            job = job_for(generation)
            name, project_id = job["name"], job["projectId"]
            found = self.find_job(name, project_id)
            if found is None:
                if self.create_job(job) is not None:
                    return self._finish(job, self.start_operation(job), "created", generation, timeout)
                found = self.find_job(name, project_id)
                if found is None:
                    raise AirflowException(f"transfer job {name} answered ALREADY_EXISTS on create but cannot be read")
            if found.get("status") == "DELETED":
                self.log.info("Transfer job %s was deleted; trying the next generation's name", name)
                continue
            latest = found.get("latestOperationName")
            if latest and self.operation_is_active(latest):
                self.log.info("Transfer job %s is running operation %s; reattaching", name, latest)
                return self._finish(job, latest, "reattached", generation, timeout)
            self.provider_hook.update_transfer_job(job_name=name, body=update_request(job))
            return self._finish(job, self.start_operation(job), "rerun", generation, timeout)
        raise AirflowException(f"{max_generations} transfer job names already used ({job_for(1)['name']}...)")

    def _finish(
        self, job: dict[str, Any], operation_name: str, how: str, generation: int, timeout: float
    ) -> TransferRun:
        operation = self.wait_for_operation(job["name"], operation_name, timeout)
        return TransferRun(job["name"], operation, how, generation)

    def wait_for_operation(self, job_name: str, operation_name: str, timeout: float) -> dict[str, Any]:
        """Poll ``transferOperations.get`` until the operation is done; raise naming the job and failing objects."""
        deadline = time.monotonic() + timeout
        while True:
            operation = self.provider_hook.get_transfer_operation(operation_name=operation_name)
            status = operation_status(operation)
            self.log.info("Transfer %s: %s %s", operation_name, status, operation_counters(operation))
            failed_objects = operation_counters(operation).get("objectsFromSourceFailed", 0)
            if status in FAILED_STATUSES or operation.get("error") or failed_objects:
                errors = "\n  ".join(operation_errors(operation)) or f"{failed_objects} object(s) failed"
                raise AirflowException(
                    f"Storage Transfer job {job_name} operation {operation_name} ended {status}:\n  {errors}"
                )
            if status == "SUCCESS":
                return operation
            if operation.get("done"):
                raise AirflowException(
                    f"Storage Transfer job {job_name} operation {operation_name} is done as {status}"
                )
            if time.monotonic() >= deadline:
                raise AirflowException(
                    f"Storage Transfer job {job_name} operation {operation_name} is still {status} after "
                    f"{timeout:.0f} s; it keeps running, and a retry of this task reattaches to it"
                )
            time.sleep(self.poll_seconds)
