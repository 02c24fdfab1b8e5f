"""`whispersync deploy aws package`: the Lambda code directory holds what the handlers import and nothing more.

The package is built once for the module (pip downloads the wheels from the index) by the real CLI.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from whispersync.deploy.aws.package import (
    LAZY_IMPORTS,
    MARKER,
    NOT_ON_LAMBDA,
    PROVIDED_BY_RUNTIME,
    PackageError,
    build_package,
    handler_distributions,
    handler_modules,
)

# Sits beside the interpreter: the console script of this virtualenv.
WHISPERSYNC = str(Path(sys.executable).with_name("whispersync"))
ENGINE = ("duckdb", "numpy", "fastapi", "jinja2", "uvicorn", "pydantic")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("package") / "lambda"
    done = subprocess.run([WHISPERSYNC, "deploy", "aws", "package", "--out", str(out), "--json"],
                          capture_output=True, text=True, check=False, timeout=600)
    if done.returncode != 0 and "pip could not install" in done.stderr:
        pytest.skip(f"no index to download the wheels from: {done.stderr.strip()[-300:]}")
    assert done.returncode == 0, done.stderr
    return out, json.loads(done.stdout)


class TestPackage:
    def test_every_handler_imports_from_the_package_alone(self, built):
        """A fresh interpreter with the package, the stdlib and the runtime's boto3 imports every handler."""
        out, _ = built
        import boto3

        runtime_boto3 = str(Path(boto3.__file__).parent.parent)
        code = (f"import sys, importlib; sys.path[:] = [{str(out)!r}]"
                " + [p for p in sys.path if 'site-packages' not in p]"
                f" + [{runtime_boto3!r}]\n"
                f"for name in {handler_modules()!r}: importlib.import_module(name)\n"
                "import whispersync; print(whispersync.__file__)")
        done = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=False,
                              env={"PATH": os.environ.get("PATH", ""), "AWS_REGION": "eu-west-1"}, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().startswith(str(out))

    def test_it_holds_no_engine_and_no_boto3_and_is_small(self, built):
        """No DuckDB, numpy, FastAPI or Jinja2 (the local install's), no boto3 (Lambda's); under 12 MB unzipped.

        The budget is ours, not Lambda's (250 MB): whispersync itself, with bytecode, is ~5.6 MB of it and
        grows with the product (it was raised from 10 MB when cost, baselines and anomaly models came); an
        engine slipping in (DuckDB, numpy: tens of MB each) would break it at once."""
        out, answer = built
        top_level = {p.name.lower() for p in out.iterdir()}
        names = {d["name"] for d in answer["distributions"]}
        for absent in (*ENGINE, *PROVIDED_BY_RUNTIME):
            assert not any(t == absent or t.startswith(f"{absent}-") for t in top_level), absent
            assert absent not in names
        assert {"whispersync", "orjson", "opentelemetry-api", "httpx"} <= names
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
        assert answer["size_bytes"] == size < 12_000_000
        assert answer["directory"] == str(out)

    def test_compiled_wheels_are_lambdas(self, built):
        """orjson's extension module is the Linux x86_64 CPython 3.11 build, whatever machine built it."""
        out, _ = built
        (extension,) = (out / "orjson").glob("orjson*.so")
        assert "cpython-311-x86_64-linux-gnu" in extension.name

    def test_optional_imports_of_a_dependency_stay_out(self, built):
        """httpx imports click, rich and pygments when installed (its cli extra); the package goes without."""
        out, answer = built
        assert not {"click", "rich", "pygments"} & {d["name"] for d in answer["distributions"]}
        assert not (out / "rich").exists() and not (out / "pygments").exists()

    def test_it_refuses_a_directory_that_is_not_a_package(self, tmp_path):
        """DIR with other files in it is never replaced."""
        (tmp_path / "mine.txt").write_text("keep me")
        with pytest.raises(PackageError, match=MARKER):
            build_package(tmp_path)
        done = subprocess.run([WHISPERSYNC, "deploy", "aws", "package", "--out", str(tmp_path)],
                              capture_output=True, text=True, check=False, timeout=120)
        message = " ".join(done.stderr.split())
        assert done.returncode == 2 and "is not a Lambda package built by whispersync" in message
        assert "Traceback" not in done.stderr
        assert (tmp_path / "mine.txt").read_text() == "keep me"

    def test_a_previous_package_is_replaced(self, built):
        """The marker file makes DIR ours: building again replaces it."""
        out, _ = built
        assert (out / MARKER).is_file()
        stray = out / "whispersync" / "stale_module.py"
        stray.write_text("")
        build_package(out)
        assert not stray.exists() and (out / MARKER).is_file()


def _function_level_imports(path: Path) -> set[str]:
    """Top-level names imported inside functions of a module's source."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in inner.names)
                elif isinstance(inner, ast.ImportFrom) and inner.level == 0 and inner.module:
                    names.add(inner.module.split(".")[0])
    return names


class TestClosure:
    def test_every_lazy_third_party_import_of_the_handlers_is_known(self):
        """An import inside a function escapes the import probe: each one the handlers' code has is in LAZY_IMPORTS."""
        code = (f"import importlib, sys\nfor name in {handler_modules()!r}: importlib.import_module(name)\n"
                "print('\\n'.join(n + ' ' + m.__file__ for n, m in list(sys.modules.items())"
                " if n.startswith('whispersync') and getattr(m, '__file__', None)))")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120)
        assert done.returncode == 0, done.stderr
        loaded = dict(line.split(" ", 1) for line in done.stdout.splitlines())
        lazy = set().union(*(_function_level_imports(Path(f)) - set(NOT_ON_LAMBDA.get(name, ()))
                             for name, f in loaded.items()))
        third_party = lazy - set(sys.stdlib_module_names) - {"whispersync", "__future__"}
        assert third_party - {"boto3", "botocore"} == set(LAZY_IMPORTS)

    def test_a_lazy_import_is_in_the_closure_with_its_requirements(self):
        """httpx, imported by the worker only at its first voice memo, comes with httpcore (itself lazy in httpx)."""
        names = {d.name for d in handler_distributions(["whispersync.deploy.aws.handlers.worker"])}
        assert {"httpx", "httpcore", "h11", "certifi"} <= names
        assert not {"click", "rich", "pygments", "boto3", "duckdb"} & names
