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


def test_production_refuses_a_short_secret_and_says_how_long(tmp_path):
    with pytest.raises(ConfigError) as exc:
        settings_from_env(str(tmp_path), {"DESK_ENV": "production", "DESK_SECRET_KEY": "s" * 31})
    assert "DESK_SECRET_KEY" in str(exc.value) and "31" in str(exc.value) and "32" in str(exc.value)
    assert "s" * 31 not in str(exc.value)  # the key itself never reaches a log
    assert settings_from_env(str(tmp_path), {"DESK_ENV": "production", "DESK_SECRET_KEY": "s" * 32}).is_production
    # Development keeps its short fixed key, and any the developer sets.
    assert settings_from_env(str(tmp_path), {"DESK_SECRET_KEY": "short"}).secret_key == "short"


def test_the_length_check_applies_to_any_key(tmp_path):
    from desk.config import require_long_key

    env = {"DESK_ENV": "production", "DESK_OTHER_KEY": "k" * 10}
    with pytest.raises(ConfigError) as exc:
        require_long_key(env, "DESK_OTHER_KEY")
    assert "DESK_OTHER_KEY" in str(exc.value)
    with pytest.raises(ConfigError):
        require_long_key({**env, "DESK_OTHER_KEY": " " * 40 + "k"}, "DESK_OTHER_KEY")
    assert require_long_key({**env, "DESK_OTHER_KEY": "k" * 40}, "DESK_OTHER_KEY") == "k" * 40
    assert require_long_key({"DESK_OTHER_KEY": "k"}, "DESK_OTHER_KEY") == "k"  # development


def test_the_image_pixel_limit_defaults_to_a_modern_camera_and_is_read_from_the_environment(tmp_path):
    from desk.domain.media_types import DEFAULT_MAX_IMAGE_PIXELS

    assert settings_from_env(str(tmp_path), {}).max_image_pixels == DEFAULT_MAX_IMAGE_PIXELS == 61_000_000
    assert settings_from_env(str(tmp_path), {"DESK_MAX_IMAGE_PIXELS": "24000000"}).max_image_pixels == 24_000_000


@pytest.mark.parametrize("value, words", [
    ("sixty million", "must be a whole number"),
    ("999999", "at least 1,000,000"),
    ("89478486", "at most 89,478,485"),
])
def test_an_image_pixel_limit_out_of_range_is_refused_with_the_range(tmp_path, value, words):
    with pytest.raises(ConfigError) as exc:
        settings_from_env(str(tmp_path), {"DESK_MAX_IMAGE_PIXELS": value})
    assert "DESK_MAX_IMAGE_PIXELS" in str(exc.value) and words in str(exc.value)


@pytest.mark.parametrize("proxies, seen", [(0, "127.0.0.1 http"), (1, "203.0.113.7 https")])
def test_the_client_address_and_scheme_come_from_trusted_proxies_only(sqlite_engine, tmp_path, proxies, seen):
    """Behind a proxy, sign-in limits and the audit trail need the client's address, not the proxy's; a desk
    with no proxy declared must not believe a forged X-Forwarded-For."""
    from flask import request

    from desk import create_app

    app = create_app({"TESTING": True, "DESK_ENGINE": sqlite_engine,
                      "ENV": {"DESK_SECRET_KEY": "t", "DESK_MEDIA_DIR": str(tmp_path),
                              "DESK_TRUSTED_PROXIES": str(proxies)}})
    app.add_url_rule("/test-who", "test_who", lambda: f"{request.remote_addr} {request.scheme}")
    answer = app.test_client().get("/test-who", headers={"X-Forwarded-For": "203.0.113.7",
                                                         "X-Forwarded-Proto": "https"})
    assert answer.get_data(as_text=True) == seen


@pytest.mark.parametrize("value", ["-1", "6", "one"])
def test_a_trusted_proxy_count_out_of_range_is_refused(tmp_path, value):
    with pytest.raises(ConfigError) as exc:
        settings_from_env(str(tmp_path), {"DESK_TRUSTED_PROXIES": value})
    assert "DESK_TRUSTED_PROXIES" in str(exc.value)
