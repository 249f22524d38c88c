"""Settings profiles, the environment helpers and the production system checks."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from dataplatform import checks, env
from dataplatform.profiles import default_settings_module
from tests.conftest import need_service

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
STRONG_KEY = "k" * 20 + "Z9y8X7w6V5u4T3s2R1q0" + "p" * 20


# --- env helpers ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("yes", True), ("ON", True), ("0", False), ("off", False)])
def test_env_bool_parses(monkeypatch, raw, expected):
    monkeypatch.setenv("X_FLAG", raw)
    assert env.env_bool("X_FLAG", not expected) is expected


def test_env_bool_refuses_typos(monkeypatch):
    monkeypatch.setenv("X_FLAG", "ture")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG='ture' is not a boolean"):
        env.env_bool("X_FLAG", False)


def test_env_int_bounds_and_garbage(monkeypatch):
    monkeypatch.setenv("X_NUM", "80a")
    with pytest.raises(ImproperlyConfigured, match="not an integer"):
        env.env_int("X_NUM", 1)
    monkeypatch.setenv("X_NUM", "5")
    with pytest.raises(ImproperlyConfigured, match="below the minimum"):
        env.env_int("X_NUM", 10, minimum=10)
    monkeypatch.setenv("X_NUM", "50")
    assert env.env_int("X_NUM", 10, minimum=10) == 50


def test_env_defaults_when_unset_or_blank(monkeypatch):
    monkeypatch.setenv("X_BLANK", "  ")
    monkeypatch.delenv("X_UNSET", raising=False)
    assert env.env_str("X_BLANK", "d") == "d"
    assert env.env_int("X_UNSET", 7) == 7
    assert env.env_list("X_UNSET", ["a"]) == ["a"]


def test_env_list_and_secret(monkeypatch):
    monkeypatch.setenv("X_LIST", " a, b ,,c ")
    assert env.env_list("X_LIST", []) == ["a", "b", "c"]
    monkeypatch.delenv("X_SECRET", raising=False)
    with pytest.raises(ImproperlyConfigured, match="X_SECRET must be set"):
        env.env_secret("X_SECRET")


# --- profile selection ------------------------------------------------------------------------------------------
def test_profile_selection(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert default_settings_module() == "dataplatform.settings.base"
    monkeypatch.setenv("DATABASE_URL", "postgres://x@127.0.0.1/db")
    assert default_settings_module() == "dataplatform.settings.production"
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    assert default_settings_module() == "dataplatform.settings.production"


def _run_manage(args, env_overrides, tmp_path):
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    environ.update({"DATA_DIR": str(tmp_path / "data"), **env_overrides})
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120
    )


def test_embedded_default_needs_no_configuration(tmp_path):
    result = _run_manage(["check"], {}, tmp_path)
    assert result.returncode == 0, result.stderr
    key = (tmp_path / "data" / "secret_key").read_text()
    assert len(key) >= 50
    assert oct((tmp_path / "data" / "secret_key").stat().st_mode & 0o777) == "0o600"
    # the second start reuses the same key
    assert _run_manage(["check"], {}, tmp_path).returncode == 0
    assert (tmp_path / "data" / "secret_key").read_text() == key


def test_embedded_default_settings_values(tmp_path):
    code = (
        "from django.conf import settings as s;"
        "print(s.PLATFORM_PROFILE, s.DATABASES['default']['ENGINE'], s.CHANNEL_LAYERS['default']['BACKEND'],"
        " s.DATABASES['default']['OPTIONS']['transaction_mode'], s.DEBUG)"
    )
    result = _run_manage(["shell", "-v", "0", "-c", code], {}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "embedded",
        "django.db.backends.sqlite3",
        "dataplatform.channels.FastInMemoryChannelLayer",
        "IMMEDIATE",
        "False",
    ]


def test_embedded_sqlite_runs_in_wal_mode(tmp_path):
    code = (
        "from django.db import connection; c = connection.cursor();"
        "c.execute('PRAGMA journal_mode'); print(c.fetchone()[0])"
    )
    result = _run_manage(["shell", "-v", "0", "-c", code], {}, tmp_path)
    assert result.stdout.strip() == "wal", result.stderr


_CONNECTIONS = (
    "from django.conf import settings as s; d = s.DATABASES['default'];"
    " print(d['CONN_MAX_AGE'], 'pool' in d.get('OPTIONS', {}))"
)


def _production_env(tmp_path, **extra):
    environ = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_CONN_MAX_AGE")}
    environ.update(DATA_DIR=str(tmp_path / "data"), DATABASE_URL=PG_URL, REDIS_URL=REDIS_URL, SECRET_KEY=STRONG_KEY)
    environ.update(extra)
    return environ


def test_postgresql_connections_come_from_the_pool_but_in_a_wsgi_process(tmp_path):
    """The ASGI server and the workers borrow a connection per request from the pool; gunicorn's sync workers
    (dataplatform/wsgi.py) keep theirs across requests, as Django does under WSGI."""
    served = subprocess.run(
        [sys.executable, "-c", _CONNECTIONS],
        cwd=ROOT,
        env=_production_env(tmp_path, DJANGO_SETTINGS_MODULE="dataplatform.settings.production"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert served.stdout.split() == ["0", "True"], served.stderr
    wsgi = subprocess.run(
        [sys.executable, "-c", "import dataplatform.wsgi;" + _CONNECTIONS],
        cwd=ROOT,
        env=_production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert wsgi.stdout.split() == ["600", "False"], wsgi.stderr


def test_production_profile_requires_secret_key(tmp_path):
    result = _run_manage(["check"], {"DATABASE_URL": PG_URL, "REDIS_URL": REDIS_URL}, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY must be set in this profile" in result.stderr


def test_production_profile_requires_redis_url_too(tmp_path):
    result = _run_manage(["check"], {"DATABASE_URL": PG_URL, "SECRET_KEY": STRONG_KEY}, tmp_path)
    assert result.returncode != 0
    assert "REDIS_URL must be set in this profile" in result.stderr


def test_production_profile_refuses_unsafe_values(tmp_path):
    result = _run_manage(
        ["check"],
        {
            "DATABASE_URL": "sqlite:///" + str(tmp_path / "x.sqlite3"),
            "REDIS_URL": REDIS_URL,
            "SECRET_KEY": "short",
            "ALLOWED_HOSTS": "*",
            "DEBUG": "1",
        },
        tmp_path,
    )
    assert result.returncode != 0
    for check_id in ("platform.E001", "platform.E003", "platform.E004", "platform.E005"):
        assert check_id in result.stderr


@pytest.mark.postgres
@pytest.mark.redis
def test_production_profile_passes_checks_with_real_services(tmp_path):
    from scripts.test_services import reachable

    for url, port in ((PG_URL, 5432), (REDIS_URL, 6379)):
        if reason := reachable(url, port):
            need_service(reason)
    environ = {"DATABASE_URL": PG_URL, "REDIS_URL": REDIS_URL, "SECRET_KEY": STRONG_KEY, "ALLOWED_HOSTS": "example.org"}
    result = _run_manage(["check", "--database", "default"], environ, tmp_path)
    assert result.returncode == 0, result.stderr


# --- the checks themselves (in process) -------------------------------------------------------------------------
def test_checks_are_silent_outside_production(settings):
    settings.PLATFORM_PROFILE = "embedded"
    settings.DEBUG = True
    assert checks.check_production_settings() == []


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_checks_flag_each_unsafe_production_setting(settings):
    settings.PLATFORM_PROFILE = "production"
    settings.DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3"}}
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.DEBUG = True
    settings.SECRET_KEY = "django-insecure-abc"
    settings.ALLOWED_HOSTS = []
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    ids = sorted(error.id for error in checks.check_production_settings())
    assert ids == [f"platform.E00{i}" for i in range(1, 7)]


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_checks_pass_a_safe_production_configuration(settings):
    settings.PLATFORM_PROFILE = "production"
    settings.DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql"}}
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer"}}
    settings.DEBUG = False
    settings.SECRET_KEY = STRONG_KEY
    settings.ALLOWED_HOSTS = ["platform.example.org"]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache"}}
    assert checks.check_production_settings() == []


def test_default_password_hasher_is_djangos(db):
    """The base settings leave Django's default hasher (PBKDF2); only the test settings speed it up."""
    from django.conf import global_settings
    from django.test import override_settings

    from dataplatform.accounts.services import user_create
    from dataplatform.settings import base

    assert not hasattr(base, "PASSWORD_HASHERS")
    with override_settings(PASSWORD_HASHERS=global_settings.PASSWORD_HASHERS):
        created = user_create(username="hashme", password="long-enough")
        assert created.password.startswith("pbkdf2_sha256$")


def test_an_unknown_offline_engine_is_refused_at_start(tmp_path):
    result = _run_manage(["check"], {"FEATURESTORE_OFFLINE_ENGINE": "flink"}, tmp_path)
    assert result.returncode != 0
    assert "FEATURESTORE_OFFLINE_ENGINE must be duckdb, spark or auto, not flink" in result.stderr
