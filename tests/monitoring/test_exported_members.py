"""Each wing of the engine has one public face: its __init__'s __all__, defined in the wing."""

from __future__ import annotations

import importlib
import subprocess
import sys
import types

import pytest

WINGS = ["store", "metrics", "logs", "logs.insights", "traces", "alarms", "notify", "dashboards", "export", "otlp",
         "synthetics", "cost"]


@pytest.mark.parametrize("wing", WINGS)
def test_every_exported_name_exists_and_is_defined_in_the_wing(wing: str) -> None:
    package = importlib.import_module(f"whispersync.monitoring.{wing}")
    assert package.__all__, f"{wing} declares no public names"
    for name in package.__all__:
        member = getattr(package, name)
        module = getattr(member, "__module__", None)
        if module is not None and module not in ("builtins", "typing"):  # type aliases name no module of ours
            assert module.startswith(package.__name__), f"{wing}.{name} comes from {module}"


@pytest.mark.parametrize("wing", WINGS)
def test_no_other_public_names_leak(wing: str) -> None:
    package = importlib.import_module(f"whispersync.monitoring.{wing}")
    public = {n for n, v in vars(package).items() if not n.startswith("_") and not isinstance(v, types.ModuleType)}
    assert public - set(package.__all__) <= {"annotations"}


def test_importing_the_engine_package_loads_no_wing() -> None:
    code = ("import sys; import whispersync.monitoring\n"
            "assert 'duckdb' not in sys.modules\n"
            "assert not [m for m in sys.modules if m.startswith('whispersync.monitoring.')]\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
