"""The benchmarks import what they name: a module of this project or of the tests moved or
renamed fails here, not half-way through a benchmark's run (imports inside functions
included)."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = sorted((ROOT / "benchmarks").glob("*.py"))


@pytest.mark.parametrize("script", BENCHMARKS, ids=[path.name for path in BENCHMARKS])
def test_every_import_of_a_benchmark_resolves(script, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    monkeypatch.syspath_prepend(str(ROOT))
    missing = []
    for node in ast.walk(ast.parse(script.read_text())):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else (
            [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else [])
        for name in names:
            if name.split(".")[0] in ("cielo", "tests", "_load", "bare_app") and importlib.util.find_spec(name) is None:
                missing.append(f"{script.name}:{node.lineno} {name}")
            elif isinstance(node, ast.ImportFrom) and name.split(".")[0] in ("cielo", "tests"):
                module = importlib.import_module(name)
                missing += [f"{script.name}:{node.lineno} {name}.{alias.name}" for alias in node.names
                            if not hasattr(module, alias.name) and importlib.util.find_spec(f"{name}.{alias.name}") is None]
    assert not missing, missing
