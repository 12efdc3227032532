"""The error taxonomy: terminal vs transient, and the services' reason codes sorted once."""

from __future__ import annotations

import pytest

from ddb_lake.core.config.table_config import TableConfigError
from ddb_lake.core.errors import (
    ChecksumMismatchError,
    ConfigError,
    SchemaError,
    TerminalError,
    TerminalServiceError,
    TransientError,
    TransientServiceError,
    classify_reason,
    service_error,
)
from ddb_lake.core.lake.glue_table import SchemaEvolutionError
from ddb_lake.destinations.bigquery.schema import BigQuerySchemaError


@pytest.mark.parametrize(
    "reason",
    ["ThrottlingException", "ProvisionedThroughputExceededException", "LimitExceededException", "SlowDown",
     "InternalServerError", "rateLimitExceeded", "quotaExceeded", "backendError"],
)
def test_throttling_quota_and_faults_are_transient(reason):
    assert classify_reason(reason) is TransientServiceError


@pytest.mark.parametrize(
    "reason", ["AccessDenied", "AccessDeniedException", "accessDenied", "notFound", "EntityNotFoundException",
               "ValidationException", "invalid", "NoSuchBucket"],
)
def test_permission_not_found_and_invalid_requests_are_terminal(reason):
    assert classify_reason(reason) is TerminalServiceError


def test_unknown_reasons_follow_the_http_status():
    assert classify_reason("Weird", 503) is TransientServiceError
    assert classify_reason("Weird", 429) is TransientServiceError
    assert classify_reason("Weird", 403) is TerminalServiceError
    assert classify_reason(None, None) is TransientServiceError


def test_service_error_names_service_reason_and_fix():
    error = service_error("GetTable", "EntityNotFoundException", "Table orders not found", 400)
    assert isinstance(error, TerminalError)
    assert str(error) == (
        "GetTable EntityNotFoundException: Table orders not found. Fix: check the Glue database and table names"
    )
    throttled = service_error("Query", "rateLimitExceeded", "slow down", 403)
    assert isinstance(throttled, TransientError) and str(throttled).endswith("A retry may get past it")


def test_existing_errors_sit_in_the_taxonomy_and_stay_value_errors():
    for cls, base in [(TableConfigError, ConfigError), (SchemaEvolutionError, SchemaError),
                      (BigQuerySchemaError, SchemaError), (ChecksumMismatchError, TerminalError)]:
        assert issubclass(cls, base) and issubclass(cls, TerminalError)
    assert issubclass(SchemaEvolutionError, ValueError) and issubclass(TableConfigError, ValueError)
