"""The provider package: importable from plugins/ alone and installed, registered with Airflow, core Airflow-free."""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import ddb_lake

REPO_ROOT = Path(__file__).resolve().parent.parent
PLUGINS = REPO_ROOT / "plugins"
AIRFLOW_PARTS = ("hooks", "operators", "sensors", "triggers")
# A destination folder holds its own hooks, operators and triggers, named by suffix (``load_hook``, ...).
DESTINATION_SUFFIXES = {"hooks": "_hook", "operators": "_operator", "sensors": "_sensor", "triggers": "_trigger"}
# Modules of a destination that belong to the pure core: no Airflow import.
PURE_DESTINATION_MODULES = ("schema", "load_job", "transfer_job", "staging_policy", "cdc_sql")


def run_python(code: str, *, isolated: bool) -> subprocess.CompletedProcess:
    args = [sys.executable, *(["-S", "-E"] if isolated else []), "-c", code]
    return subprocess.run(args, capture_output=True, text=True, cwd=PLUGINS, timeout=120, check=False)


def test_imports_from_plugins_folder_alone():
    """As MWAA and Composer load it: the plugins folder on sys.path, no site-packages, no install."""
    result = run_python(
        "import sys; sys.path.insert(0, '.'); import ddb_lake; print(ddb_lake.__file__);"
        " print(sorted(ddb_lake.get_provider_info()))",
        isolated=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == str(PLUGINS / "ddb_lake" / "__init__.py")
    assert "hooks" in result.stdout


def test_entry_point_returns_provider_info_airflow_accepts():
    found = [ep for ep in entry_points(group="apache_airflow_provider") if ep.value.startswith("ddb_lake")]
    assert len(found) == 1
    info = found[0].load()()
    assert info["package-name"] == "ddb-lake"

    import jsonschema
    from airflow.providers_manager import ProvidersManager

    schema_path = Path(inspect.getfile(ProvidersManager)).parent / "provider_info.schema.json"
    jsonschema.validate(info, __import__("json").loads(schema_path.read_text()))


def test_airflow_providers_list_shows_it(tmp_path):
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path)}
    airflow = Path(sys.executable).parent / "airflow"
    result = subprocess.run(
        [str(airflow), "providers", "list", "-o", "plain"], capture_output=True, text=True, env=env, timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ddb-lake" in result.stdout


def listed_modules(*parts: str) -> set[str]:
    info = ddb_lake.get_provider_info()
    return {m for part in parts or AIRFLOW_PARTS for entry in info[part] for m in entry["python-modules"]}


def package_modules(part: str) -> set[str]:
    """Every component module of a part: its own folder (base classes aside) and each destination's ``*<suffix>``."""
    package = importlib.import_module(f"ddb_lake.{part}")
    found = {
        f"ddb_lake.{part}.{m.name}"
        for m in pkgutil.iter_modules(package.__path__)
        if not m.name.startswith("_") and m.name != "base"
    }
    destinations = importlib.import_module("ddb_lake.destinations")
    for m in pkgutil.walk_packages(destinations.__path__, "ddb_lake.destinations."):
        if m.name.endswith(DESTINATION_SUFFIXES[part]):
            found.add(m.name)
    return found


@pytest.mark.parametrize("part", AIRFLOW_PARTS)
def test_every_module_is_registered_and_imports(part):
    on_disk = package_modules(part)
    registered = {
        m for m in listed_modules(part)
        if m.startswith(f"ddb_lake.{part}.") or m.endswith(DESTINATION_SUFFIXES[part])
    }
    assert registered == on_disk
    for name in sorted(on_disk):
        module = importlib.import_module(name)
        assert module.__doc__, f"{name} has no module docstring"


def test_core_imports_no_airflow():
    code = (
        "import sys, pkgutil, importlib, ddb_lake.core as core, ddb_lake.destinations as dest\n"
        "for m in pkgutil.walk_packages(core.__path__, 'ddb_lake.core.'): importlib.import_module(m.name)\n"
        "for d in pkgutil.iter_modules(dest.__path__):\n"
        f"    for name in {PURE_DESTINATION_MODULES!r}:\n"
        "        importlib.import_module(f'ddb_lake.destinations.{d.name}.{name}')\n"
        "assert 'ddb_lake.core.convert.converter' in sys.modules\n"
        "bad = sorted(n for n in sys.modules if n == 'airflow' or n.startswith('airflow.'))\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = run_python(code, isolated=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_core_third_party_imports_are_declared_dependencies():
    """Every distribution the pure core imports is in pyproject's ``dependencies`` (numpy was once missing)."""
    import ast
    import re
    import tomllib
    from importlib.metadata import packages_distributions

    declared = {
        re.split(r"[<>=!~ ;\[]", dep, maxsplit=1)[0].lower().replace("_", "-").replace(".", "-")
        for dep in tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    owners = packages_distributions()
    imported: set[str] = set()
    for path in (PLUGINS / "ddb_lake" / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    third_party = {m for m in imported if m in owners and m != "ddb_lake"}
    assert {"numpy", "pyarrow", "yaml"} <= third_party
    undeclared = {
        m: owners[m] for m in third_party
        if not {d.lower().replace("_", "-").replace(".", "-") for d in owners[m]} & declared
    }
    assert not undeclared, f"imported by ddb_lake.core but not in pyproject dependencies: {undeclared}"
    requires = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.11", "bootstrap, CI and the lock files are Python 3.11 only"


def test_every_package_data_pattern_matches_a_file():
    """No phantom package data (a ``waiters/*.json`` once named a folder that does not exist)."""
    import tomllib

    patterns = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for package, globs in patterns.items():
        root = PLUGINS.joinpath(*package.split("."))
        for pattern in globs:
            assert list(root.glob(pattern)), f"package-data {package}: {pattern} matches no file under {root}"
