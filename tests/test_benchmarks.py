"""The benchmarks reach into WhisperSync's internals (caches to clear for a cold read, a
store's schema), and nothing else runs them in CI: a rename broke two of them unseen
(``_schema._COLUMNS_CACHE``, merged into ``_footers``). Every name they take from
whispersync, and every attribute they read off a whispersync module, must exist."""

from __future__ import annotations

import ast
import importlib
import types
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).parent.parent / "benchmarks").glob("*.py"))


def whispersync_references(path: Path) -> list[tuple[int, str, str]]:
    """(line, module, name) for each ``from whispersync… import name`` and each ``alias.attr``
    where ``alias`` may be a whispersync module imported by the script (a local name bound to
    a class or a function gives a "module" that does not import, skipped by the test)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    modules: dict[str, str] = {}  # local name -> dotted module
    references = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("whispersync"):
            for alias in node.names:
                references.append((node.lineno, node.module, alias.name))
                modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("whispersync") and alias.asname:
                    modules[alias.asname] = alias.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
            references.append((node.lineno, modules[node.value.id], node.attr))
    return references


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda p: p.name)
def test_every_name_a_benchmark_takes_from_whispersync_exists(path):
    missing = []
    imported = {node.module for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ImportFrom)}
    for line, module_name, name in whispersync_references(path):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            if module_name in imported:  # a module the script imports from: it must exist
                missing.append(f"{path.name}:{line}: {module_name}")
            continue  # else a local name bound to a class or a function, checked as a name
        if not isinstance(module, types.ModuleType) or not hasattr(module, name):
            missing.append(f"{path.name}:{line}: {module_name}.{name}")
    assert not missing, "\n".join(missing)


def test_the_check_finds_a_missing_cache(tmp_path):
    script = tmp_path / "bench.py"
    script.write_text("from whispersync.monitoring.store import _schema\n_schema._COLUMNS_CACHE.clear()\n")
    references = whispersync_references(script)
    assert (2, "whispersync.monitoring.store._schema", "_COLUMNS_CACHE") in references
    module = importlib.import_module("whispersync.monitoring.store._schema")
    assert not hasattr(module, "_COLUMNS_CACHE")
