"""DESIGN.md's layers, enforced: every import inside whispersync follows an allowed
arrow, and no package reaches into another's private (_underscore) modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "whispersync"

# Ground floor: small modules everyone may use. They import only what is listed.
GROUND = {
    "errors": set(),
    "catalog": set(),
    "domain": {"errors"},
    "sqlite_db": set(),
    "settings": {"errors"},
    "periodic": {"telemetry"},
    "home_lock": {"errors"},
}
_BASE = set(GROUND)
# DESIGN.md's table: an arrow means "may import" (besides the ground floor).
ALLOWED: dict[str, set[str]] = {
    "telemetry": set(),  # nothing of ours, not even the ground floor
    "plan": {"catalog", "errors"},
    "agents": {"telemetry"} | _BASE,
    "pipeline": {"agents", "telemetry"} | _BASE,
    "monitoring": {"plan", "telemetry"} | _BASE,
    "app": {"pipeline", "agents", "monitoring", "plan", "telemetry"} | _BASE,
    "web": {"app", "monitoring", "plan", "telemetry"} | _BASE,
    # cli -> deploy: `whispersync deploy aws synth` is the shell over the CDK app that compiles the
    # plan (DESIGN.md: the CLI stays a thin shell; deploy/aws reads only the plan, never the engine).
    "cli": {"app", "web", "monitoring", "plan", "telemetry", "deploy"} | _BASE,
    "deploy": {"pipeline", "agents", "plan", "telemetry"} | _BASE,
    "samples": set(),
    "__main__": {"cli"},
    "__init__": set(),
}
ALLOWED.update(GROUND)

# Narrow exceptions: (importing unit, the one subpackage it may import besides its arrows).
# deploy's alert-router Lambda runs the same router and channels as `up`. monitoring.notify is
# channels, routing and an SQLite outbox, not the DuckDB engine: test_notify_imports_no_engine holds it to that.
NARROW: set[tuple[str, str]] = {("deploy", "whispersync.monitoring.notify")}


def _unit(module: str) -> str:
    """whispersync.monitoring.store._store -> monitoring; whispersync.errors -> errors."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, dotted name) for every `import whispersync...` and every name of a
    `from whispersync... import name` (the name may be a module or a private helper)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(("whispersync", *path.relative_to(root).with_suffix("").parts))
    if path.name == "__init__.py":
        package = package.rsplit(".", 1)[0] + "._"
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("whispersync")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = package.rsplit(".", node.level)[0]
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            if module.startswith("whispersync"):
                found += [(node.lineno, f"{module}.{a.name}") for a in node.names]
    return found


def violations(root: Path = SRC) -> list[str]:
    problems = []
    for path in sorted(root.rglob("*.py")):
        importer = ".".join(("whispersync", *path.relative_to(root).with_suffix("").parts))
        unit = _unit(importer)
        for line, module in _imports(path, root):
            where = f"{path.relative_to(root.parent)}:{line}"
            target = _unit(module)
            narrow = any(unit == u and (module == allowed or module.startswith(allowed + "."))
                         for u, allowed in NARROW)
            if target != unit and target not in ALLOWED.get(unit, set()) and not narrow:
                problems.append(f"{where}: {unit} may not import {target} ({module})")
            private = [i for i, part in enumerate(module.split(".")) if part.startswith("_") and part != "__init__"]
            if private:
                owner = ".".join(module.split(".")[: private[0]])
                if not (importer == owner or importer.startswith(owner + ".")):
                    problems.append(f"{where}: {importer} imports {module}, private to {owner}")
    return problems


def test_every_import_follows_the_layers() -> None:
    assert violations() == []


def test_every_unit_is_in_the_table() -> None:
    units = {p.stem if p.is_file() else p.name for p in SRC.iterdir() if p.suffix == ".py" or p.is_dir()}
    units -= {"__pycache__"}
    assert units - set(ALLOWED) == set()


@pytest.mark.parametrize(("where", "line", "expected"), [
    ("plan/_bad.py", "from whispersync.monitoring.store import TelemetryStore\n", "plan may not import monitoring"),
    ("pipeline/_bad.py", "import whispersync.app\n", "pipeline may not import app"),
    ("telemetry/_bad.py", "from whispersync import catalog\n", "telemetry may not import catalog"),
    ("web/_bad.py", "from whispersync.pipeline.ingest import decode_transcript\n", "web may not import pipeline"),
    ("cli/_bad.py", "from whispersync.monitoring.alarms._engine import AlarmEngine\n", "private to whispersync.monitoring.alarms"),
    ("monitoring/logs/_bad.py", "from whispersync.monitoring.store import _segments\n", "private to whispersync.monitoring.store"),
    ("deploy/_bad.py", "from whispersync.monitoring.alarms import AlarmEngine\n", "deploy may not import monitoring"),
    ("deploy/_bad.py", "from whispersync.monitoring.remediation import default_registry\n",
     "deploy may not import monitoring"),
])
def test_it_catches_a_planted_violation(tmp_path, where, line, expected) -> None:
    """The check can fail: a copy of the tree with one bad import is reported, with its line."""
    import shutil

    root = tmp_path / "whispersync"
    shutil.copytree(SRC, root, ignore=shutil.ignore_patterns("__pycache__", "samples"))
    (root / where).write_text(line)
    found = violations(root)
    assert len(found) == 1 and expected in found[0] and found[0].startswith(f"whispersync/{where}:1"), found


def test_notify_imports_no_engine() -> None:
    """What NARROW lets deploy import stays off the engine: no other monitoring wing, no DuckDB, in a fresh process."""
    import json
    import subprocess
    import sys

    inside = [f"{path.relative_to(SRC.parent)}:{line} imports {module}"
              for path in sorted((SRC / "monitoring" / "notify").rglob("*.py"))
              for line, module in _imports(path, SRC)
              if module.startswith("whispersync.monitoring.")
              and not module.startswith("whispersync.monitoring.notify")]
    assert inside == []
    code = ("import sys, json; import whispersync.monitoring.notify; "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('duckdb', 'pyarrow', 'fastapi') "
            "or (m.startswith('whispersync.monitoring.') and not m.startswith('whispersync.monitoring.notify')))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []
