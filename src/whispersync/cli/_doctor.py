"""`whispersync doctor`: security and operating posture, one pass/warn/fail line per check.

Each check is a plain function of values and paths, returning a :class:`Check`, so each
is tested alone against real files. A *fail* is a risk to fix now (the command exits 1);
a *warn* is something the doctor cannot verify from here (a reverse proxy it cannot see,
a default left unchosen).
"""

from __future__ import annotations

import shutil
import stat
import tomllib
import typing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr
from rich.text import Text

from whispersync.cli._common import JsonOption, app, console, print_json, state
from whispersync.errors import ConfigError
from whispersync.settings import LOOPBACK_HOSTS, Settings

PASS, WARN, FAIL = "pass", "warn", "fail"
# Below this the telemetry store (DuckDB files, compaction needs room for a rewrite) stops soon.
MIN_FREE_BYTES = 1024**3


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # pass, warn or fail
    detail: str
    fix: str | None = None  # one line: what to do about a warn or fail


def secret_setting_names() -> frozenset[str]:
    """Every setting the Settings class holds as a secret (a SecretStr), by name and alias, lower case."""
    names = set()
    for name, field in Settings.model_fields.items():
        if field.annotation is SecretStr or SecretStr in typing.get_args(field.annotation):
            names.add(name)
            # An alias such as SLACK_WEBHOOK may be spelled in the file too.
            aliases = [a.lower() for a in getattr(field.validation_alias, "choices", ()) if isinstance(a, str)]
            names.update(a.removeprefix("whispersync_") for a in aliases)
    return frozenset(names)


def check_api_token(host: str, token_set: bool) -> Check:
    if host in LOOPBACK_HOSTS:
        return Check("api-token", PASS, f"bound to loopback ({host}): only this machine can call the API")
    if token_set:
        return Check("api-token", PASS, f"bound to {host}; an API token is required")
    return Check("api-token", FAIL, f"bound to {host} without an API token: anyone who reaches it can submit and read",
                 "set WHISPERSYNC_API_TOKEN (e.g. `openssl rand -hex 32`) or bind to 127.0.0.1")


def check_transport(host: str, dashboard_url: str | None) -> Check:
    """The API speaks plain HTTP: beyond loopback, TLS must come from a reverse proxy in front of it."""
    if host in LOOPBACK_HOSTS:
        return Check("tls", PASS, "bound to loopback: traffic does not leave this machine")
    if dashboard_url and dashboard_url.lower().startswith("https://"):
        return Check("tls", PASS, f"bound to {host}; served to people at {dashboard_url} (https, a reverse proxy)")
    return Check("tls", WARN, f"bound to {host} over plain HTTP: the token and transcripts cross the network in clear",
                 "put a TLS-terminating reverse proxy (Caddy, nginx) in front and set dashboard_url to its https URL")


def check_not_world_readable(name: str, path: Path, *, what: str) -> Check:
    """``path`` (a directory or file) grants nothing to other users."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return Check(name, PASS, f"{what} {path} does not exist yet")
    if mode & stat.S_IRWXO:
        return Check(name, FAIL, f"{what} {path} is open to every user (mode {stat.filemode(mode)})",
                     f"chmod o-rwx {path}" if path.is_file() else f"chmod 700 {path}")
    return Check(name, PASS, f"{what} {path} is closed to other users (mode {stat.filemode(mode)})")


def check_secrets_file(path: Path | None) -> Check:
    if path is None:
        return Check("secrets-file", PASS, "no secrets_file configured (secrets come from the environment)")
    return check_not_world_readable("secrets-file", path, what="the secrets file")


def check_config_has_no_secrets(path: Path, secret_names: frozenset[str]) -> Check:
    """Secrets belong in the environment or a secrets file, not in a config file people share and commit."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Check("config-secrets", PASS, f"no config file at {path}")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return Check("config-secrets", FAIL, f"cannot read the config file {path}: {exc}",
                     "fix the file so that it parses as TOML")
    found = sorted(k for k in data if k.lower() in secret_names)
    if found:
        return Check("config-secrets", FAIL, f"{path} holds secret(s): {', '.join(found)}",
                     "move them to the environment (WHISPERSYNC_...) or to a secrets_file readable only by you")
    return Check("config-secrets", PASS, f"{path} holds no secrets")


def check_disk_space(path: Path, min_free_bytes: int = MIN_FREE_BYTES) -> Check:
    """Free bytes on the filesystem that holds ``path`` (or its nearest existing parent)."""
    where = path
    while not where.exists() and where != where.parent:
        where = where.parent
    free = shutil.disk_usage(where).free
    detail = f"{_size(free)} free for the telemetry store ({path}); at least {_size(min_free_bytes)} wanted"
    if free < min_free_bytes:
        return Check("disk-space", FAIL, detail, "free space, lower retention_days, or move the home to a larger disk")
    return Check("disk-space", PASS, detail)


def check_retention(retention_days: int, explicitly_set: bool) -> Check:
    if not explicitly_set:
        return Check("retention", WARN, f"telemetry is kept for the default {retention_days} days",
                     "set retention_days in whispersync.toml (or WHISPERSYNC_RETENTION_DAYS) to choose it")
    return Check("retention", PASS, f"telemetry is kept for {retention_days} days (retention_days)")


def _size(count: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024:
            return f"{count:.0f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"


def run_checks(settings: Settings, config_file: Path, *, min_free_bytes: int = MIN_FREE_BYTES) -> list[Check]:
    return [
        check_api_token(settings.host, settings.api_token is not None),
        check_transport(settings.host, settings.dashboard_url),
        check_not_world_readable("home", settings.home, what="the home"),
        check_secrets_file(settings.secrets_file),
        check_config_has_no_secrets(config_file, secret_setting_names()),
        check_disk_space(settings.telemetry_dir, min_free_bytes),
        check_retention(settings.retention_days, "retention_days" in settings.model_fields_set),
    ]


_MARK = {PASS: "[green]PASS[/]", WARN: "[yellow]WARN[/]", FAIL: "[bold red]FAIL[/]"}


@app.command()
def doctor(
    config_file: Annotated[Path, typer.Option(
        "--config", envvar="WHISPERSYNC_CONFIG", show_envvar=False,
        help="The config file to check for secrets. Default: $WHISPERSYNC_CONFIG, else ./whispersync.toml.")
    ] = Path("whispersync.toml"),
    as_json: JsonOption = False,
) -> None:
    """Check the security and operating posture; exit 1 when a check fails.

    Checks: an API token when bound beyond loopback, TLS in front when not on loopback, the home and
    the secrets file closed to other users, no secrets in the config file, free disk space for the
    telemetry store, retention chosen.
    """
    try:
        settings = Settings.load(home=state.get("home"))
        checks = run_checks(settings, config_file)
    except ConfigError as exc:  # e.g. bound beyond loopback without a token: the settings refuse to load
        checks = [Check("settings", FAIL, str(exc), "fix the configuration named above")]
    failed = any(c.status == FAIL for c in checks)
    if as_json:
        print_json({"ok": not failed, "checks": [asdict(c) for c in checks]})
    else:
        for c in checks:
            # Details hold paths and messages: plain text, so a "[" in a path is not taken for markup.
            console.print(Text.from_markup(_MARK[c.status]) + Text(f"  {c.name:<15} {c.detail}"), highlight=False)
            if c.fix:
                console.print(Text(f"      {'':<15} fix: {c.fix}"), highlight=False)
    if failed:
        raise typer.Exit(1)
