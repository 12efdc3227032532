"""The lake's own error: a setting or a convert summary that cannot work (terminal, and a ``ValueError`` too)."""

from __future__ import annotations

from ddb_lake.core.errors import ConfigError


class LakeConfigError(ConfigError, ValueError):
    """A lake setting, SQL value or convert summary that cannot work; the message names it and the fix."""
