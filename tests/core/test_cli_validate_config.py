"""``ddb-lake validate-config``: the folder check CI and pre-commit run, offline, with the DAG file's rules."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from ddb_lake.core.cli import main

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_valid_folder_exits_0(tmp_path, capsys):
    for name in ("orders.yaml", "customers.yaml"):
        shutil.copy(REPO_ROOT / "include" / "tables" / name, tmp_path / name)
    assert main(["validate-config", str(tmp_path)]) == 0
    assert capsys.readouterr().out == f"ddb-lake: 2 table file(s) valid, 0 invalid in {tmp_path}\n"


def test_bad_and_clashing_files_exit_1_with_one_line_per_problem(tmp_path, capsys):
    shutil.copy(REPO_ROOT / "include" / "tables" / "orders.yaml", tmp_path / "orders.yaml")
    orders = yaml.safe_load((tmp_path / "orders.yaml").read_text())
    (tmp_path / "payments.yaml").write_text(yaml.safe_dump({**orders, "name": "payments", "retries": -1,
                                                            "dynamodb": {"table_name": "demo-payments"}}))
    (tmp_path / "twin.yaml").write_text(yaml.safe_dump({**orders, "name": "twin"}))

    assert main(["validate-config", str(tmp_path)]) == 1

    captured = capsys.readouterr()
    assert captured.out == f"ddb-lake: 0 table file(s) valid, 3 invalid in {tmp_path}\n"
    lines = captured.err.splitlines()
    assert f"ddb-lake: {tmp_path / 'payments.yaml'}: retries: -1 must be >= 0" in lines
    assert any(line.startswith(f"ddb-lake: {tmp_path / 'twin.yaml'}: dynamodb.table_name: ") and
               f"is also used by {tmp_path / 'orders.yaml'}" in line for line in lines)


def test_empty_folder_exits_1(tmp_path, capsys):
    assert main(["validate-config", str(tmp_path)]) == 1
    assert "no table files" in capsys.readouterr().err
