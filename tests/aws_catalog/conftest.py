"""Fixture of the catalog tests: a freshly reset moto account with the lake bucket."""

from __future__ import annotations

import pytest
from catalog_lake import Lake, new_lake


@pytest.fixture
def lake(moto_reset: str) -> Lake:
    return new_lake(moto_reset)
