"""db/dialects.py: every named operation exists on both databases, and only db/ tells them
apart (domain services read the same on both; their tests run on both)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import cielo
from cielo.db.dialects import Dialect, PostgresDialect, SQLiteDialect

SRC = Path(cielo.__file__).parent


def _abstract() -> list[str]:
    return [name for name, member in vars(Dialect).items()
            if inspect.isfunction(member) and "raise NotImplementedError" in inspect.getsource(member)]


@pytest.mark.parametrize("dialect", [SQLiteDialect, PostgresDialect])
def test_each_database_implements_every_operation(dialect):
    assert _abstract(), "the base class names the operations"
    missing = [name for name in _abstract() if name not in vars(dialect)]
    assert not missing, f"{dialect.__name__} lacks {missing}"


def test_only_the_persistence_package_tells_the_databases_apart():
    offenders = []
    for path in SRC.rglob("*.py"):
        relative = path.relative_to(SRC)
        if relative.parts[0] == "db" or relative == Path("config.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "is_sqlite":
                offenders.append(f"{relative}:{node.lineno}")
    assert not offenders, f"ask db.sql for a named operation instead: {offenders}"
