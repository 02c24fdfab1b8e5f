"""Channel secrets: from the settings (environment, whispersync.toml) or a secrets file.

The secrets file is TOML with the settings' own names, for example::

    slack_critical_webhook = "https://hooks.slack.com/services/T0/B0/xxxx"
    pagerduty_routing_key = "R0UT1NGKEY..."
    smtp_password = "..."

A value set in the environment wins over the file (the more explicit source).
An unknown key is an error naming the key, never the value.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from whispersync.errors import ConfigError

__all__ = ["SECRET_NAMES", "ChannelSecrets", "read_secrets"]

SECRET_NAMES = ("slack_critical_webhook", "slack_high_webhook", "slack_webhook", "pagerduty_routing_key",
                "webhook_url", "webhook_secret", "smtp_password")
# The plan's environment names (§4 AlertRouter) are accepted in the file as well.
_ALIASES = {"pagerduty_token": "pagerduty_routing_key"}


class ChannelSecrets(dict[str, str]):
    """name -> secret value; ``repr`` never shows a value."""

    def __repr__(self) -> str:
        return f"<ChannelSecrets {sorted(self)}>"

    def values_to_scrub(self) -> list[str]:
        """Every secret, and the secret-bearing parts of secret URLs (a server may echo
        just the path back). Longest first, so a secret containing another is masked whole."""
        found = {v for v in self.values() if len(v) >= 4}
        for value in self.values():
            parts = urlsplit(value)
            if parts.scheme and parts.netloc:
                found.update(p for p in (parts.path, parts.query) if len(p) >= 4 and p != "/")
                found.update(seg for seg in parts.path.split("/") if len(seg) >= 10)
                found.update(v for _, v in parse_qsl(parts.query) if len(v) >= 6)
        return sorted(found, key=len, reverse=True)


def read_secrets(secrets_file: Path | None, configured: Mapping[str, str | None]) -> ChannelSecrets:
    """The secrets in `secrets_file`, overridden by those `configured` (name -> value or None)."""
    found: dict[str, str] = {}
    if secrets_file is not None:
        path = secrets_file
        try:
            data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"secrets_file {path} does not exist") from None
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            # The decode error's message can quote the offending line: name the kind only.
            raise ConfigError(f"secrets_file {path} cannot be read ({type(exc).__name__})") from None
        for key, value in data.items():
            name = _ALIASES.get(key.lower(), key.lower())
            if name not in SECRET_NAMES:
                raise ConfigError(f"secrets_file {path}: unknown key {key!r}; known: {', '.join(SECRET_NAMES)}")
            if not isinstance(value, str) or not value:
                raise ConfigError(f"secrets_file {path}: {key!r} must be a non-empty string")
            found[name] = value
    for name in SECRET_NAMES:
        value = configured.get(name)
        if value:
            found[name] = value
    return ChannelSecrets(found)
