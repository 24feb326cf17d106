"""Settings from the environment, and the refusals that keep production safe."""
import pytest

from desk.config import DEV_SECRET, ConfigError, settings_from_env


def test_development_defaults(tmp_path):
    s = settings_from_env(str(tmp_path), {})
    assert s.env == "development" and s.secret_key == DEV_SECRET
    assert s.database_url == f"sqlite:///{tmp_path}/desk.sqlite"
    assert s.timezone == "Europe/London" and s.max_attempts == 5


def test_production_refuses_to_start_without_a_secret(tmp_path):
    with pytest.raises(ConfigError) as exc:
        settings_from_env(str(tmp_path), {"DESK_ENV": "production"})
    assert "DESK_SECRET_KEY" in str(exc.value)
    s = settings_from_env(str(tmp_path), {"DESK_ENV": "production", "DESK_SECRET_KEY": "s" * 40})
    assert s.is_production


@pytest.mark.parametrize("env, word", [
    ({"DESK_TIMEZONE": "Europe/Londres"}, "DESK_TIMEZONE"),
    ({"DESK_ENV": "staging"}, "DESK_ENV"),
    ({"DESK_MAX_ATTEMPTS": "five"}, "DESK_MAX_ATTEMPTS"),
])
def test_bad_settings_are_named(tmp_path, env, word):
    with pytest.raises(ConfigError) as exc:
        settings_from_env(str(tmp_path), env)
    assert word in str(exc.value)


def test_production_cookies_are_secure(sqlite_engine, tmp_path):
    from desk import create_app

    app = create_app({"DESK_ENGINE": sqlite_engine,
                      "ENV": {"DESK_ENV": "production", "DESK_SECRET_KEY": "s" * 40}})
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
