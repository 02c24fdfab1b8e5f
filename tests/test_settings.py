from __future__ import annotations

from pathlib import Path

import pytest

from whispersync.errors import ConfigError
from whispersync.settings import Settings, resolve_home


class TestSettings:
    def test_it_reads_whispersync_environment_variables(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("WHISPERSYNC_WORKERS", "7")
        monkeypatch.setenv("WHISPERSYNC_HOME", "/tmp/ws-home")
        settings = Settings.load()
        assert settings.workers == 7
        assert settings.home == Path("/tmp/ws-home")

    def test_it_reads_a_toml_file_below_the_environment(self, monkeypatch, tmp_path: Path) -> None:
        config = tmp_path / "whispersync.toml"
        config.write_text('workers = 3\nport = 9999\n')
        monkeypatch.setenv("WHISPERSYNC_CONFIG", str(config))
        monkeypatch.setenv("WHISPERSYNC_PORT", "9000")
        settings = Settings.load()
        assert (settings.workers, settings.port) == (3, 9000)

    def test_an_explicit_argument_wins(self, monkeypatch) -> None:
        monkeypatch.setenv("WHISPERSYNC_WORKERS", "7")
        assert Settings.load(workers=2).workers == 2

    def test_a_bad_value_is_one_readable_config_error(self, monkeypatch) -> None:
        monkeypatch.setenv("WHISPERSYNC_WORKERS", "many")
        with pytest.raises(ConfigError, match="workers"):
            Settings.load()

    @pytest.mark.parametrize(
        ("name", "value"), [("visibility_timeout", 43_201), ("max_receive_count", 1001)]
    )
    def test_a_value_the_queue_would_refuse_is_a_config_error(self, name, value) -> None:
        """SQS limits (12 h visibility, maxReceiveCount 1..1000) are checked at start-up."""
        with pytest.raises(ConfigError, match=name):
            Settings.load(**{name: value})

    def test_an_unknown_toml_key_is_refused(self, monkeypatch, tmp_path: Path) -> None:
        config = tmp_path / "whispersync.toml"
        config.write_text('wrokers = 3\n')
        monkeypatch.setenv("WHISPERSYNC_CONFIG", str(config))
        with pytest.raises(ConfigError, match="wrokers"):
            Settings.load()

    def test_it_refuses_to_bind_beyond_loopback_without_a_token(self) -> None:
        with pytest.raises(ConfigError, match="WHISPERSYNC_API_TOKEN"):
            Settings.load(host="0.0.0.0")
        assert Settings.load(host="0.0.0.0", api_token="s3cret-s3cret-s3cret").host == "0.0.0.0"

    @pytest.mark.parametrize("token", ["", " ", "\t\n", "short-token"])
    def test_an_empty_blank_or_short_token_is_a_configuration_error(self, monkeypatch, token) -> None:
        """An empty token used to pass the bind check and let `Bearer` with nothing after it in."""
        monkeypatch.setenv("WHISPERSYNC_API_TOKEN", token)
        with pytest.raises(ConfigError, match="api_token") as caught:
            Settings.load(host="0.0.0.0")
        if token.strip():
            assert token not in str(caught.value)  # the message names the length, not the token

    def test_a_token_padded_with_whitespace_is_refused(self, monkeypatch) -> None:
        monkeypatch.setenv("WHISPERSYNC_API_TOKEN", " s3cret-s3cret-s3cret ")
        with pytest.raises(ConfigError, match="whitespace"):
            Settings.load()

    def test_the_token_never_shows_in_its_repr(self) -> None:
        settings = Settings.load(api_token="very-secret-token")
        assert "very-secret-token" not in repr(settings)
        assert "very-secret-token" not in str(settings.model_dump())

    def test_the_elevenlabs_key_comes_from_its_usual_variable(self, monkeypatch) -> None:
        monkeypatch.setenv("ELEVENLABS_API_KEY", "xi-123")
        assert Settings.load().elevenlabs_api_key.get_secret_value() == "xi-123"


class TestHome:
    """--home, WHISPERSYNC_HOME, the config file, the nearest .whispersync/ here or above,
    then the user data directory; none found: ./.whispersync, for a writing command to create."""

    @pytest.fixture
    def tree(self, tmp_path: Path, monkeypatch) -> Path:
        deep = tmp_path / "project" / "a" / "b"
        deep.mkdir(parents=True)
        monkeypatch.chdir(deep)
        return deep

    def test_none_found_is_dot_whispersync_in_the_working_directory(self, tree) -> None:
        assert resolve_home(None, tree) == tree / ".whispersync"
        settings = Settings.load()
        assert (settings.home, settings.home_origin) == (tree / ".whispersync", "default")
        assert not settings.home.exists()  # resolving creates nothing

    def test_the_nearest_home_above_is_found_as_git_finds_dot_git(self, tree) -> None:
        (tree.parents[1] / ".whispersync").mkdir()
        (tree.parent / ".whispersync").mkdir()
        assert resolve_home(None, tree) == tree.parent / ".whispersync"
        settings = Settings.load()
        assert (settings.home, settings.home_origin) == (tree.parent / ".whispersync", "found")

    def test_a_file_named_dot_whispersync_is_not_a_home(self, tree) -> None:
        (tree.parent / ".whispersync").write_text("not a directory")
        assert resolve_home(None, tree) == tree / ".whispersync"

    def test_the_user_data_directory_comes_last(self, tree, tmp_path, monkeypatch) -> None:
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
        user = tmp_path / "xdg-data" / "whispersync"
        user.mkdir(parents=True)
        assert resolve_home(None, tree) == user
        (tree.parents[1] / ".whispersync").mkdir()
        assert resolve_home(None, tree) == tree.parents[1] / ".whispersync"

    def test_explicit_then_environment_then_config_win_over_a_found_home(self, tree, tmp_path, monkeypatch) -> None:
        (tree / ".whispersync").mkdir()
        config = tmp_path / "whispersync.toml"
        config.write_text(f'home = "{tmp_path / "from-config"}"\n')
        monkeypatch.setenv("WHISPERSYNC_CONFIG", str(config))
        assert (Settings.load().home, Settings.load().home_origin) == (tmp_path / "from-config", "config")
        monkeypatch.setenv("WHISPERSYNC_HOME", str(tmp_path / "from-env"))
        assert (Settings.load().home, Settings.load().home_origin) == (tmp_path / "from-env", "env")
        settings = Settings.load(home=tmp_path / "from-flag")
        assert (settings.home, settings.home_origin) == (tmp_path / "from-flag", "explicit")


class TestConfigFile:
    def test_a_config_file_named_explicitly_must_exist(self, monkeypatch, tmp_path: Path) -> None:
        missing = tmp_path / "typo.toml"
        monkeypatch.setenv("WHISPERSYNC_CONFIG", str(missing))
        with pytest.raises(ConfigError, match="WHISPERSYNC_CONFIG") as caught:
            Settings.load()
        assert str(missing) in str(caught.value) and "does not exist" in str(caught.value)

    def test_a_directory_is_not_a_config_file(self, monkeypatch, tmp_path: Path) -> None:
        monkeypatch.setenv("WHISPERSYNC_CONFIG", str(tmp_path))
        with pytest.raises(ConfigError, match="is a directory"):
            Settings.load()

    def test_the_default_config_file_may_be_absent(self, monkeypatch, tmp_path: Path) -> None:
        monkeypatch.delenv("WHISPERSYNC_CONFIG")
        monkeypatch.chdir(tmp_path)
        assert Settings.load(workers=2).workers == 2

    def test_the_default_config_file_is_read_when_present(self, monkeypatch, tmp_path: Path) -> None:
        monkeypatch.delenv("WHISPERSYNC_CONFIG")
        monkeypatch.chdir(tmp_path)
        (tmp_path / "whispersync.toml").write_text("workers = 5\n")
        assert Settings.load().workers == 5
