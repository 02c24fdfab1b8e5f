"""The Lambda code directory: whispersync and exactly the third-party distributions its handlers need.

`pip install --target DIR 'whispersync[aws]'` would pull DuckDB, FastAPI, Jinja2 and the
rest of the local install, which no handler imports. Instead:

1. Every handler module is imported in a fresh interpreter; the modules it added to
   ``sys.modules`` are mapped to their distributions (``packages_distributions()``, and the
   files each distribution owns where a namespace package such as ``opentelemetry`` is
   shared by several), noting which package imported each one.
2. Needed are the distributions whispersync imports, their requirements (markers evaluated
   for Lambda's Python 3.11 on x86_64 Linux: httpx imports httpcore only at its first
   request, so the import alone would miss it), and what a needed distribution imports
   unless it names it only under an extra (httpx loads click, rich and pygments for its
   `cli` extra when they happen to be installed, and does without them).
   whispersync's own requirements are not followed: its handlers need what step 1 found.
3. boto3 and what it depends on are left out: Lambda's Python runtime provides them.
4. whispersync is installed from its source tree (``pip install --no-deps --target``), the
   others at the version installed here, as Linux wheels for the stack's runtime and
   architecture (``environment.LAMBDA_RUNTIME``/``LAMBDA_ARCHITECTURE``, today CPython 3.11 on
   x86_64: ``--platform manylinux2014_x86_64 --only-binary=:all: --python-version 3.11
   --implementation cp``), so compiled ones (orjson) run on Lambda whatever machine builds
   the package. pip downloads them from the configured index.

Runtime and its boto3: https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html
pip's cross-platform install: https://pip.pypa.io/en/stable/cli/pip_install/#cmdoption-platform
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from whispersync.deploy.aws.environment import LAMBDA_MACHINE, LAMBDA_PIP_PLATFORM, LAMBDA_PYTHON_VERSION
from whispersync.errors import WhisperSyncError

__all__ = ["LAZY_IMPORTS", "MARKER", "NOT_ON_LAMBDA", "PROVIDED_BY_RUNTIME", "Distribution", "Package", "PackageError", "build_package",
           "handler_distributions", "handler_modules", "pip_command"]

HANDLERS_PACKAGE = "whispersync.deploy.aws.handlers"
MARKER = ".whispersync-lambda-package"  # in DIR: a package this module built, safe to replace
# boto3 and its dependencies, as the Python runtime ships them (normalized names).
PROVIDED_BY_RUNTIME = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"})
# The stack's runtime and architecture (environment.LAMBDA_RUNTIME, LAMBDA_ARCHITECTURE), as pip spells them.
LAMBDA_PYTHON = LAMBDA_PYTHON_VERSION
PLATFORM_ARGS = ("--platform", LAMBDA_PIP_PLATFORM, "--only-binary=:all:", "--python-version", LAMBDA_PYTHON,
                 "--implementation", "cp")
# The PEP 508 marker environment of that runtime, to decide which requirements apply there.
_LAMBDA_MARKERS = {
    "os_name": "posix", "sys_platform": "linux", "platform_system": "Linux", "platform_machine": LAMBDA_MACHINE,
    "platform_python_implementation": "CPython", "implementation_name": "cpython", "python_version": LAMBDA_PYTHON,
    "python_full_version": f"{LAMBDA_PYTHON}.0", "implementation_version": f"{LAMBDA_PYTHON}.0",
    "platform_release": "", "platform_version": "", "extra": "",
}
_SELF = "whispersync"
# Third-party modules the handlers' code imports inside functions (boto3 aside), so that importing the
# handlers does not load them: the probe imports them too. tests/deploy/aws/test_package.py finds new ones.
LAZY_IMPORTS = ("httpx",)  # agents/_voice.py: the ElevenLabs client, built at the first voice memo
# Imports inside functions that never run on Lambda, so they stay out of the package: the OTLP exporter
# (telemetry/_otlp.py: protobuf, orjson's lazy use there) is built only by the local runtime when
# WHISPERSYNC_OTLP_ENDPOINT is set; the handlers write their telemetry to stdout for CloudWatch.
NOT_ON_LAMBDA = {"whispersync.telemetry._otlp": ("google", "opentelemetry", "orjson")}

# Run in a fresh interpreter: the modules importing the handlers adds (with their files), and for each
# top-level name, which top-level packages imported it.
_PROBE = """
import importlib, json, sys


class Watch:
    importers = {}

    def find_spec(self, name, path=None, target=None):
        frame = sys._getframe(1)
        while frame is not None and frame.f_globals.get("__name__", "").startswith(("importlib", "_frozen")):
            frame = frame.f_back
        importer = frame.f_globals.get("__name__", "") if frame is not None else ""
        top = name.split(".")[0]
        if importer.split(".")[0] != top:
            self.importers.setdefault(top, set()).add(importer.split(".")[0])
        return None


before = set(sys.modules)
sys.meta_path.insert(0, Watch())
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
print(json.dumps({"files": {m: getattr(sys.modules[m], "__file__", None) for m in set(sys.modules) - before},
                  "importers": {top: sorted(by) for top, by in Watch.importers.items()}}))
"""


class PackageError(WhisperSyncError):
    """The package cannot be built (or DIR is not ours to replace); the message says why."""


@dataclass(frozen=True)
class Distribution:
    name: str
    version: str
    size_bytes: int = 0  # its files in the package, once built


@dataclass(frozen=True)
class Package:
    directory: Path
    size_bytes: int  # unzipped: every file under the directory
    distributions: tuple[Distribution, ...]


def handler_modules() -> list[str]:
    """Every handler module (the package's public modules), so a new handler cannot be forgotten."""
    package = importlib.import_module(HANDLERS_PACKAGE)
    return [f"{HANDLERS_PACKAGE}.{m.name}" for m in pkgutil.iter_modules(package.__path__)
            if not m.name.startswith("_")]


def handler_distributions(modules: list[str] | None = None) -> list[Distribution]:
    """The distributions (name, installed version) the Lambda package needs for `modules` (default: every
    handler), whispersync first, without the runtime's boto3 and its dependencies.

    Needed: what whispersync imports, the requirements of what is needed, and what a needed distribution
    imports unless it declares it only under an extra: httpx imports click, rich and pygments when they
    are installed (its `cli` extra) and does without them, so they stay out. Only a module's first import
    is seen, so a distribution first imported optionally and later by whispersync would be missed: the
    package test imports every handler from the built directory alone to catch that."""
    probe = _probe([*(modules or handler_modules()), *LAZY_IMPORTS])
    owners = _owning_distributions(probe["files"])
    imported_by: dict[str, set[str]] = {}  # distribution -> distributions (or __main__) that imported it
    for top, importers in probe["importers"].items():
        for dist in owners.get(top, ()):
            for importer in importers:
                imported_by.setdefault(dist, set()).update(owners.get(importer, {importer}))
    needed: set[str] = set()
    todo = [d for d, by in imported_by.items() if by & {_SELF, "__main__"}]
    while todo:
        name = todo.pop()
        if name in needed or name in PROVIDED_BY_RUNTIME or name == _SELF:
            continue
        needed.add(name)
        mandatory, optional = _requirements(name)
        todo.extend(mandatory)
        todo.extend(d for d, by in imported_by.items() if name in by and d not in optional)
    return [Distribution(_SELF, metadata.version(_SELF))] + [
        Distribution(name, metadata.version(name)) for name in sorted(needed)]


def pip_command(target: Path, distributions: list[Distribution]) -> list[str]:
    """pip's command line for the third-party distributions: pinned, no dependency resolution, Lambda's wheels."""
    return [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), *PLATFORM_ARGS,
            "--disable-pip-version-check", "--no-input", "--quiet", *_compile_flag(),
            *(f"{d.name}=={d.version}" for d in distributions)]


def build_package(out: Path, modules: list[str] | None = None) -> Package:
    """Build the Lambda code directory at `out` (replacing a package built here before) and describe it."""
    out = Path(out)
    if out.exists() and not _replaceable(out):
        raise PackageError(f"{out} exists and is not a Lambda package built by whispersync (no {MARKER} in it); "
                           "choose another --out or remove it")
    distributions = handler_distributions(modules)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        _install_self(staging)
        third_party = [d for d in distributions if d.name != _SELF]
        if third_party:
            _run_pip(pip_command(staging, third_party), "the handlers' dependencies")
        shutil.rmtree(staging / "bin", ignore_errors=True)  # console scripts: their shebangs name this machine
        (staging / MARKER).write_text(json.dumps({"distributions": [f"{d.name}=={d.version}" for d in distributions]}))
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return _describe(out, distributions)


def _describe(directory: Path, distributions: list[Distribution]) -> Package:
    """Sizes of a built package: the whole directory, and each distribution's files (its RECORD)."""
    sized = []
    for dist in distributions:
        found = list(metadata.distributions(name=dist.name, path=[str(directory)]))
        files = (found[0].files or []) if found else []
        sized.append(Distribution(dist.name, dist.version,
                                  sum(f.locate().stat().st_size for f in files if Path(f.locate()).is_file())))
    total = sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())
    return Package(directory, total, tuple(sized))


def _replaceable(out: Path) -> bool:
    return out.is_dir() and ((out / MARKER).is_file() or not any(out.iterdir()))


def _probe(modules: list[str]) -> dict:
    done = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(modules)], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise PackageError(f"importing the handlers failed: {last[:300]}")
    return json.loads(done.stdout)


def _owning_distributions(imported: dict[str, str | None]) -> dict[str, set[str]]:
    """Top-level name -> normalized names of the distributions owning the imported modules under it
    (stdlib and built-ins have none)."""
    by_top = metadata.packages_distributions()
    owners: dict[str, set[str]] = {}
    for top in {name.split(".")[0] for name in imported}:
        candidates = set(by_top.get(top, []))
        if len(candidates) > 1:  # a namespace package: keep the distributions whose files were loaded
            loaded = {Path(f).resolve() for m, f in imported.items() if f and m.split(".")[0] == top}
            candidates = {c for c in candidates if loaded & _files_of(c)}
        if candidates:
            owners[top] = {_normalize(c) for c in candidates}
    return owners


def _files_of(name: str) -> set[Path]:
    return {Path(f.locate()).resolve() for f in metadata.distribution(name).files or []}


def _requirements(name: str) -> tuple[set[str], set[str]]:
    """(what `name` requires on Lambda, what it names only under extras or other platforms), normalized."""
    from packaging.requirements import Requirement  # pip's own dependency too: present wherever pip builds

    mandatory: set[str] = set()
    named: set[str] = set()
    for line in metadata.requires(name) or []:
        requirement = Requirement(line)
        wanted = _normalize(requirement.name)
        named.add(wanted)
        if requirement.marker is not None and not requirement.marker.evaluate(_LAMBDA_MARKERS):
            continue
        if wanted in PROVIDED_BY_RUNTIME or wanted == _SELF:
            continue
        try:
            metadata.version(wanted)
        except metadata.PackageNotFoundError:
            raise PackageError(f"{name} requires {requirement.name}, which is not installed here; "
                               f"install it (pip install '{requirement}') and build again") from None
        mandatory.add(wanted)
    return mandatory, named - mandatory


def _install_self(target: Path) -> None:
    """whispersync from its source tree when installed from one (editable or not), else from the index."""
    source = _source_tree()
    if source is None:
        _run_pip([sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), "--quiet",
                  "--disable-pip-version-check", *_compile_flag(), f"{_SELF}=={metadata.version(_SELF)}"], _SELF)
        return
    # Build from a copy: setuptools writes build/ and *.egg-info into the tree it builds.
    with tempfile.TemporaryDirectory(prefix="whispersync-src-") as copy:
        for item in source.iterdir():
            if item.is_file():
                shutil.copy2(item, copy)
        shutil.copytree(source / "src", Path(copy) / "src",
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"))
        _run_pip([sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), "--quiet",
                  "--disable-pip-version-check", *_compile_flag(), copy], _SELF)


def _source_tree() -> Path | None:
    """The project directory whispersync was installed from (PEP 610 direct_url.json), if it is one."""
    raw = metadata.distribution(_SELF).read_text("direct_url.json")
    if not raw:
        return None
    url = json.loads(raw).get("url", "")
    if not url.startswith("file://"):
        return None
    path = Path(url[len("file://"):])
    return path if (path / "pyproject.toml").is_file() and (path / "src").is_dir() else None


def _compile_flag() -> list[str]:
    # Lambda cannot write bytecode under /var/task: shipped .pyc files spare each cold start the compile,
    # but only when this interpreter is the runtime's version (cpython-311 for python3.11).
    return [] if f"{sys.version_info[0]}.{sys.version_info[1]}" == LAMBDA_PYTHON else ["--no-compile"]


def _run_pip(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        errors = [line for line in done.stderr.splitlines() if "error" in line.lower()] or done.stderr.splitlines()
        raise PackageError(f"pip could not install {what}: {(errors or ['no output'])[-1].strip()[:300]}")


def _normalize(name: str) -> str:
    """PEP 503 normalized name: the one spelling pip and importlib.metadata both accept."""
    return re.sub(r"[-_.]+", "-", name).lower()
