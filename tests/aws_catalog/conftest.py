"""Fixtures of the catalog tests: a freshly reset moto account with the lake bucket; the lake's SQL templates.

Operators built here without a DAG find ``include/sql/`` through ``$DDB_LAKE_SQL_DIR`` (a deployed DAG finds it
beside its DAGs folder, see ``ddb_lake.core.lake.sql_templates``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from catalog_lake import Lake, new_lake

from ddb_lake.core.lake.sql_templates import SQL_DIR_ENV

SQL_DIR = Path(__file__).resolve().parents[2] / "include" / "sql"


@pytest.fixture(autouse=True)
def lake_sql_dir(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(SQL_DIR_ENV, str(SQL_DIR))
    return SQL_DIR


@pytest.fixture
def lake(moto_reset: str) -> Lake:
    return new_lake(moto_reset)
