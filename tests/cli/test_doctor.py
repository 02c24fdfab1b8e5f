"""`whispersync doctor`: each posture check alone against real files and modes, then the command's exit code.

Mode bits are read with stat(), so these hold for root as well: root is exempt from
permission *enforcement*, not from chmod.
"""

from __future__ import annotations

import shutil

import orjson
import pytest
from typer.testing import CliRunner

from whispersync.cli import app
from whispersync.cli._doctor import (
    FAIL,
    PASS,
    WARN,
    check_api_token,
    check_config_has_no_secrets,
    check_disk_space,
    check_not_world_readable,
    check_retention,
    check_secrets_file,
    check_transport,
    secret_setting_names,
)

runner = CliRunner()


class TestToken:
    def test_loopback_needs_no_token(self):
        assert check_api_token("127.0.0.1", token_set=False).status == PASS
        assert check_api_token("::1", token_set=False).status == PASS

    def test_an_open_bind_without_a_token_fails_with_a_fix(self):
        check = check_api_token("0.0.0.0", token_set=False)
        assert check.status == FAIL and "WHISPERSYNC_API_TOKEN" in check.fix

    def test_an_open_bind_with_a_token_passes(self):
        assert check_api_token("0.0.0.0", token_set=True).status == PASS


class TestTransport:
    def test_plain_http_beyond_loopback_is_a_warning(self):
        check = check_transport("0.0.0.0", None)
        assert check.status == WARN and "reverse proxy" in check.fix

    def test_an_https_dashboard_url_counts_as_a_proxy_in_front(self):
        assert check_transport("0.0.0.0", "https://memos.example.org").status == PASS
        assert check_transport("0.0.0.0", "http://memos.example.org").status == WARN

    def test_loopback_passes(self):
        assert check_transport("localhost", None).status == PASS


class TestPermissions:
    def test_a_world_readable_home_fails(self, tmp_path):
        home = tmp_path / "home"
        home.mkdir()
        home.chmod(0o755)
        check = check_not_world_readable("home", home, what="the home")
        assert check.status == FAIL and check.fix == f"chmod 700 {home}"
        home.chmod(0o700)
        assert check_not_world_readable("home", home, what="the home").status == PASS

    def test_a_world_readable_secrets_file_fails(self, tmp_path):
        secrets = tmp_path / "secrets.toml"
        secrets.write_text('slack_webhook = "https://hooks.slack.com/services/T0/B0/x"\n')
        secrets.chmod(0o644)
        check = check_secrets_file(secrets)
        assert check.status == FAIL and check.fix == f"chmod o-rwx {secrets}"
        secrets.chmod(0o600)
        assert check_secrets_file(secrets).status == PASS

    def test_no_secrets_file_passes(self):
        assert check_secrets_file(None).status == PASS


class TestConfigSecrets:
    def test_the_secret_settings_are_found_from_the_settings_class(self):
        names = secret_setting_names()
        assert {"api_token", "slack_webhook", "smtp_password", "pagerduty_token"} <= names
        assert "host" not in names and "retention_days" not in names

    def test_a_secret_in_the_config_file_fails_naming_the_key_not_the_value(self, tmp_path):
        config = tmp_path / "whispersync.toml"
        config.write_text('retention_days = 7\nsmtp_password = "hunter2-hunter2"\n')
        check = check_config_has_no_secrets(config, secret_setting_names())
        assert check.status == FAIL and "smtp_password" in check.detail and "hunter2" not in check.detail

    def test_a_config_without_secrets_passes(self, tmp_path):
        config = tmp_path / "whispersync.toml"
        config.write_text("retention_days = 7\nhost = \"127.0.0.1\"\n")
        assert check_config_has_no_secrets(config, secret_setting_names()).status == PASS
        assert check_config_has_no_secrets(tmp_path / "absent.toml", secret_setting_names()).status == PASS

    def test_an_unparsable_config_fails(self, tmp_path):
        config = tmp_path / "whispersync.toml"
        config.write_text("retention_days = = 7\n")
        assert check_config_has_no_secrets(config, secret_setting_names()).status == FAIL


class TestDiskAndRetention:
    def test_free_space_is_measured_on_the_nearest_existing_parent(self, tmp_path):
        free = shutil.disk_usage(tmp_path).free
        assert check_disk_space(tmp_path / "home" / "telemetry", min_free_bytes=1).status == PASS
        check = check_disk_space(tmp_path / "home" / "telemetry", min_free_bytes=free * 2)
        assert check.status == FAIL and "retention_days" in check.fix

    def test_retention_left_at_its_default_is_a_warning(self):
        assert check_retention(30, explicitly_set=False).status == WARN
        assert check_retention(7, explicitly_set=True).status == PASS


class TestCommand:
    @pytest.fixture
    def env(self, tmp_path):
        config = tmp_path / "whispersync.toml"
        config.write_text("retention_days = 14\n")
        home = tmp_path / "home"
        home.mkdir(mode=0o700)
        home.chmod(0o700)
        return {"WHISPERSYNC_CONFIG": str(config), "WHISPERSYNC_HOME": str(home)}, config, home

    def test_a_sound_setup_exits_0(self, env):
        environ, _, _ = env
        result = runner.invoke(app, ["doctor", "--json"], env=environ)
        assert result.exit_code == 0, result.output
        body = orjson.loads(result.stdout)
        assert body["ok"] is True
        assert {c["name"]: c["status"] for c in body["checks"]} == {
            "api-token": PASS, "tls": PASS, "home": PASS, "secrets-file": PASS, "config-secrets": PASS,
            "disk-space": PASS, "retention": PASS}

    def test_any_failure_exits_1(self, env):
        environ, config, home = env
        home.chmod(0o755)
        result = runner.invoke(app, ["doctor"], env={**environ, "COLUMNS": "250"})
        assert result.exit_code == 1
        assert "FAIL  home" in result.stdout and f"fix: chmod 700 {home}" in result.stdout

    def test_settings_that_do_not_load_are_a_failure_line(self, env):
        environ, config, _ = env
        config.write_text('retention_days = 14\nhost = "0.0.0.0"\n')  # beyond loopback, no token
        result = runner.invoke(app, ["doctor", "--json"], env=environ)
        assert result.exit_code == 1
        [check] = orjson.loads(result.stdout)["checks"]
        assert check["name"] == "settings" and "WHISPERSYNC_API_TOKEN" in check["detail"]

