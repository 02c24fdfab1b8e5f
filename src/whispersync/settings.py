"""The one typed settings object.

Read once per entry point (`Settings.load()`), validated at start-up, passed down.
Nothing else in WhisperSync reads `os.environ`. Precedence, highest first:
explicit arguments, `WHISPERSYNC_*` environment variables, `whispersync.toml`
(in the working directory, or the file named by `WHISPERSYNC_CONFIG`, which must
exist), defaults. The default home is found as git finds `.git`: see `resolve_home`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import AliasChoices, Field, PrivateAttr, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from whispersync.errors import ConfigError

HOME_DIR_NAME = ".whispersync"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
# A bearer token shorter than this is guessable; `openssl rand -hex 32` gives 64.
MIN_API_TOKEN_LENGTH = 16


def user_home() -> Path:
    """The per-user home, last in the search (`~/.local/share/whispersync` on Linux)."""
    return Path(platformdirs.user_data_dir("whispersync"))


def find_home(cwd: Path) -> Path | None:
    """The nearest `.whispersync/` in ``cwd`` or its parents, else the user data
    directory when it exists; None when there is none."""
    for directory in (cwd, *cwd.parents):
        if (directory / HOME_DIR_NAME).is_dir():
            return directory / HOME_DIR_NAME
    user = user_home()
    return user if user.is_dir() else None


def resolve_home(explicit: Path | None, cwd: Path) -> Path:
    """The home to use: ``explicit`` (from --home, WHISPERSYNC_HOME or the config file),
    else the one `find_home` finds, else `./.whispersync` in ``cwd`` (to be created by a
    command that writes; a command that only reads refuses to run without a home)."""
    if explicit is not None:
        return explicit
    found = find_home(cwd)
    return found if found is not None else cwd / HOME_DIR_NAME


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WHISPERSYNC_",
        extra="forbid",
        validate_default=True,
        populate_by_name=True,  # Settings.load(slack_webhook=...) as well as the aliased env names
    )

    home: Path = Field(default_factory=lambda: resolve_home(None, Path.cwd()),
                       description="Directory that holds all state.")
    service: str = "whispersync"

    # HTTP ingest API
    host: str = "127.0.0.1"
    port: int = Field(8765, ge=0, le=65535)
    api_token: SecretStr | None = Field(
        None, description=f"Bearer token ({MIN_API_TOKEN_LENGTH}+ characters); required off loopback."
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins (https://host:port) allowed to call the API cross-site; none by default.",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Extra Host header values the API answers to (besides the bind address and loopback).",
    )

    # HTTP server limits: a slow or greedy client cannot hold the server.
    http_header_timeout: float = Field(10.0, gt=0, le=300, description="Seconds a client has to send its headers.")
    http_body_timeout: float = Field(30.0, gt=0, le=3600, description="Seconds a client has to send its body.")
    http_keepalive_timeout: float = Field(5.0, gt=0, le=300, description="Seconds an idle connection stays open.")
    http_max_connections: int = Field(1000, ge=1, le=100_000, description="Open connections at most.")
    request_timeout: float = Field(30.0, gt=0, le=3600, description="Seconds of work a request may cause.")
    shutdown_timeout: float = Field(10.0, gt=0, le=600, description="Seconds `up` waits for requests on stop.")

    # Ingest limits
    max_transcript_bytes: int = Field(1024 * 1024, gt=0)

    # Queue (SQS semantics)
    # Upper bounds are SQS's: 12 hours, and maxReceiveCount 1..1000 (the queue refuses more).
    visibility_timeout: float = Field(30.0, gt=0, le=43_200, description="Seconds a received message stays hidden.")
    max_receive_count: int = Field(3, ge=1, le=1000, description="Receives before a message moves to the DLQ.")

    # Worker pool
    workers: int = Field(4, ge=1, le=256)
    inbox_poll_interval: float = Field(1.0, gt=0)
    inbox_settle_seconds: float = Field(
        2.0, ge=0, description="A file is taken once its size and mtime held this long (or it was renamed in)."
    )

    # Telemetry
    telemetry: bool = Field(True, description="Emit logs, metrics and spans.")
    collector_interval: float = Field(60.0, gt=0, description="Seconds between collector runs.")
    retention_days: int = Field(30, ge=1)
    compaction_interval: float = Field(60.0, gt=0)
    # OpenTelemetry (OTLP/HTTP): a receiver `up` runs (4318 is OTLP/HTTP's port; 0 turns it off),
    # and where our own telemetry is also exported when set (a base URL: /v1/traces etc. are added).
    otlp_port: int = Field(4318, ge=0, le=65535, description="OTLP/HTTP receiver port of `up`; 0 turns it off.")
    otlp_endpoint: str | None = Field(None, description="OTLP/HTTP collector to export to, e.g. http://localhost:4318.")
    otlp_protocol: Literal["http/protobuf", "http/json"] = "http/protobuf"

    # Voice reply (off by default)
    voice: Literal["off", "auto", "espeak", "elevenlabs"] = "off"
    elevenlabs_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("WHISPERSYNC_ELEVENLABS_API_KEY", "ELEVENLABS_API_KEY")
    )
    elevenlabs_url: str = "https://api.elevenlabs.io"
    elevenlabs_voice_id: str = "21m00Tcm4TlvDq8ikWAM"
    # Cost estimates (`whispersync cost`): configuration the AWS target would run with, not metrics.
    lambda_memory_mb: int = Field(512, ge=128, le=10_240,
                                  description="Memory of the worker Lambda function (MB) that cost estimates price.")
    elevenlabs_usd_per_1k_characters: float = Field(
        0.0, ge=0, description="Your ElevenLabs plan's price per 1,000 characters; 0 leaves voice replies unpriced.")

    # Alarms and notifications (monitoring plan §4)
    alarm_interval: float = Field(60.0, gt=0, description="Seconds between alarm evaluations in `up`.")
    plan_file: Path | None = Field(None, description="A Python plan file adding or overriding alarms.")
    secrets_file: Path | None = Field(
        None, description="A TOML file of channel secrets (webhook URLs, keys, SMTP password); never logged."
    )
    dashboard_url: str | None = Field(None, description="Linked from notifications; default: the local web UI.")
    slack_critical_webhook: SecretStr | None = Field(
        None, validation_alias=AliasChoices("WHISPERSYNC_SLACK_CRITICAL_WEBHOOK", "SLACK_CRITICAL_WEBHOOK")
    )
    slack_high_webhook: SecretStr | None = Field(
        None, validation_alias=AliasChoices("WHISPERSYNC_SLACK_HIGH_WEBHOOK", "SLACK_HIGH_WEBHOOK")
    )
    slack_webhook: SecretStr | None = Field(
        None, validation_alias=AliasChoices("WHISPERSYNC_SLACK_WEBHOOK", "SLACK_WEBHOOK")
    )
    pagerduty_routing_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("WHISPERSYNC_PAGERDUTY_ROUTING_KEY", "PAGERDUTY_TOKEN")
    )
    pagerduty_url: str = "https://events.pagerduty.com/v2/enqueue"
    webhook_url: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    email_from: str = "whispersync@localhost"
    email_to: list[str] = Field(default_factory=list)

    # How `home` was chosen, for messages: "--home", "WHISPERSYNC_HOME", ... (set by `load`).
    _home_origin: str = PrivateAttr("")

    @field_validator("api_token")
    @classmethod
    def _token_long_enough(cls, token: SecretStr | None) -> SecretStr | None:
        # An empty token would make `Authorization: Bearer` (nothing after it) a valid login.
        if token is not None:
            value = token.get_secret_value()
            if not value.strip():
                raise ValueError("the API token is empty; unset WHISPERSYNC_API_TOKEN or give it a value")
            if value != value.strip():
                raise ValueError("the API token starts or ends with whitespace")
            if len(value) < MIN_API_TOKEN_LENGTH:
                raise ValueError(f"the API token is {len(value)} characters; use at least {MIN_API_TOKEN_LENGTH} "
                                 "(for example `openssl rand -hex 32`)")
        return token

    @field_validator("otlp_endpoint")
    @classmethod
    def _otlp_endpoint_is_http(cls, endpoint: str | None) -> str | None:
        if endpoint and not endpoint.startswith(("http://", "https://")):
            raise ValueError(f"the OTLP endpoint {endpoint[:80]!r} must be an http:// or https:// URL")
        return endpoint or None

    @model_validator(mode="after")
    def _refuse_open_bind_without_token(self) -> "Settings":
        if self.host not in LOOPBACK_HOSTS and self.api_token is None:
            raise ValueError(
                f"refusing to bind {self.host}: set WHISPERSYNC_API_TOKEN to listen beyond loopback"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        named = os.environ.get("WHISPERSYNC_CONFIG")
        toml_path = Path(named or "whispersync.toml")
        # The default file may be absent; a file someone named must be there (a typo
        # would otherwise silently run with the defaults).
        if named and (not toml_path.exists() or toml_path.is_dir()):  # /dev/null is fine: no settings
            problem = "is a directory" if toml_path.exists() else "does not exist"
            raise ConfigError(f"the config file {toml_path} (named by WHISPERSYNC_CONFIG) {problem}")
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml_path))

    @classmethod
    def load(cls, **overrides: Any) -> "Settings":
        """Build settings, turning validation errors into one readable ConfigError."""
        overrides = {k: v for k, v in overrides.items() if v is not None}
        try:
            settings = cls(**overrides)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
                for err in exc.errors()
            )
            raise ConfigError(f"invalid configuration: {problems}") from None
        settings._home_origin = _home_origin(settings, explicit="home" in overrides)
        return settings

    @property
    def home_origin(self) -> str:
        """How the home was chosen: "explicit" (an argument: --home), "env" (WHISPERSYNC_HOME),
        "config" (the config file), "found" (a `.whispersync/` here or above, or the user
        data directory) or "default" (none found: `./.whispersync`, not yet created)."""
        return self._home_origin or "explicit"

    # Paths under home, in one place so every process agrees on them.
    @property
    def inbox_dir(self) -> Path:
        return self.home / "inbox"

    @property
    def outputs_dir(self) -> Path:
        return self.home / "outputs"

    @property
    def blobs_dir(self) -> Path:
        return self.home / "blobs"

    @property
    def telemetry_dir(self) -> Path:
        return self.home / "telemetry"

    @property
    def queue_db(self) -> Path:
        return self.home / "queue.sqlite3"

    @property
    def records_db(self) -> Path:
        return self.home / "records.sqlite3"

    @property
    def monitoring_db(self) -> Path:
        """Alarms, their state history, and the notification outbox."""
        return self.home / "monitoring.sqlite3"

    @property
    def server_file(self) -> Path:
        """Written by `whispersync up`: where its API listens, for the CLI to find."""
        return self.home / "server.json"


def _home_origin(settings: Settings, *, explicit: bool) -> str:
    if explicit:
        return "explicit"
    if os.environ.get("WHISPERSYNC_HOME"):
        return "env"
    if "home" in settings.model_fields_set:
        return "config"
    return "found" if settings.home.is_dir() else "default"
