"""Settings come from the environment and a bad value stops the process at start-up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_match, env_url

ROOT = Path(__file__).resolve().parents[2]


def test_readers_parse_and_reject(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_BOOL", "yes")
    assert env_bool("X_BOOL", False) is True
    monkeypatch.setenv("X_BOOL", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_BOOL"):
        env_bool("X_BOOL", False)
    monkeypatch.setenv("X_INT", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        env_int("X_INT", 5, minimum=1)
    monkeypatch.setenv("X_LIST", "cpo, emsp")
    assert env_list("X_LIST", [], transform=lambda s: s.strip().upper()) == ["CPO", "EMSP"]
    with pytest.raises(ImproperlyConfigured, match=r"unknown value\(s\) EMSP"):
        env_list("X_LIST", [], allowed=["CPO"], transform=lambda s: s.strip().upper())
    monkeypatch.setenv("X_URL", "ftp://x")
    with pytest.raises(ImproperlyConfigured, match="X_URL"):
        env_url("X_URL", None, schemes=("http", "https"))
    monkeypatch.delenv("X_URL")
    assert env_url("X_URL", "http://localhost", schemes=("http",)) == "http://localhost"
    assert env_match("X_UNSET", "NL", r"[A-Z]{2}", what="a code") == "NL"


def _boot(
    *, show: str = "settings.DATABASES['default']['ENGINE'], settings.CELERY_BROKER_URL", **env: str
) -> subprocess.CompletedProcess[str]:
    """Load the production settings in a fresh interpreter with exactly these variables, and
    print ``show`` (expressions over ``settings``)."""
    clean = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    clean.update(env, DJANGO_SETTINGS_MODULE="config.settings.base")
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import django; django.setup(); from django.conf import settings; print({show})",
        ],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


GOOD = {
    "SECRET_KEY": "k" * 50,
    "ALLOWED_HOSTS": "roamdesk.example",
    "OCPI_BASE_URL": "https://roamdesk.example",
    "OCPI_TOKEN_ENCRYPTION_KEYS": "dGVzdC1rZXktMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY=",
    "DATABASE_URL": "postgres://u@127.0.0.1:5432/roamdesk",
}


def test_production_settings_boot_with_valid_environment(tmp_path: Path) -> None:
    result = _boot(**GOOD, ROAMDESK_VAR_DIR=str(tmp_path), REDIS_URL="redis://127.0.0.1:6379/0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.postgresql", "redis://127.0.0.1:6379/0"]


def test_embedded_defaults_in_debug(tmp_path: Path) -> None:
    result = _boot(DEBUG="true", ROAMDESK_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "filesystem://"]
    assert (tmp_path / "celery" / "queue").is_dir()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY must be set"),
        ({"DEBUG": "perhaps"}, "DEBUG='perhaps' is not a boolean"),
        ({"REDIS_URL": "http://127.0.0.1:6379"}, "REDIS_URL"),
        ({"DATABASE_URL": "nosuchdb://x/y"}, "DATABASE_URL is not usable"),
        ({"OCPI_PARTY_ID": "TOOLONG"}, "OCPI_PARTY_ID"),
        ({"OCPI_ROLES": "CPO,PIRATE"}, "PIRATE"),
        ({"OCPI_TOKEN_ENCRYPTION_KEYS": "not-a-key"}, "not a Fernet key"),
        ({"OCPI_BASE_URL": ""}, "OCPI_BASE_URL must be set"),
    ],
)
def test_bad_environment_fails_fast(override: dict[str, str], message: str, tmp_path: Path) -> None:
    env = {**GOOD, **override, "ROAMDESK_VAR_DIR": str(tmp_path)}
    result = _boot(**{k: v for k, v in env.items() if v != ""})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def _setting(name: str, **env: str) -> str:
    """A setting's value in a fresh interpreter with exactly these variables."""
    result = _boot(show=f"settings.{name}", **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_in_debug_the_announced_url_follows_host_and_port(tmp_path: Path) -> None:
    var = str(tmp_path)
    assert _setting("OCPI_BASE_URL", DEBUG="true", ROAMDESK_VAR_DIR=var) == "http://localhost:8000"
    assert (
        _setting("OCPI_BASE_URL", DEBUG="true", PORT="18300", ROAMDESK_VAR_DIR=var)
        == "http://localhost:18300"
    )
    assert (
        _setting(
            "OCPI_BASE_URL", DEBUG="true", HOST="127.0.0.1", PORT="18300", ROAMDESK_VAR_DIR=var
        )
        == "http://127.0.0.1:18300"
    )
    # Listening on every address: partners on this machine reach it as localhost.
    every = "0.0.0.0"  # noqa: S104 (a value of HOST; nothing is bound here)
    assert (
        _setting("OCPI_BASE_URL", DEBUG="true", HOST=every, PORT="9", ROAMDESK_VAR_DIR=var)
        == "http://localhost:9"
    )
    assert (
        _setting(
            "OCPI_BASE_URL",
            DEBUG="true",
            PORT="18300",
            OCPI_BASE_URL="https://ocpi.example",
            ROAMDESK_VAR_DIR=var,
        )
        == "https://ocpi.example"
    )
    # In production PORT says nothing about the public URL: it must be set.
    result = _boot(**{**GOOD, "OCPI_BASE_URL": ""}, PORT="18300", ROAMDESK_VAR_DIR=var)
    assert result.returncode != 0
    assert "OCPI_BASE_URL must be set" in result.stderr


def test_local_partners_are_allowed_in_development_only(tmp_path: Path) -> None:
    var = str(tmp_path)
    assert _setting("OCPI_OUTBOUND_ALLOW_LOCAL", DEBUG="true", ROAMDESK_VAR_DIR=var) == "True"
    assert (
        _setting(
            "OCPI_OUTBOUND_ALLOW_LOCAL",
            DEBUG="true",
            OCPI_OUTBOUND_ALLOW_LOCAL="false",
            ROAMDESK_VAR_DIR=var,
        )
        == "False"
    )
    assert _setting("OCPI_OUTBOUND_ALLOW_LOCAL", **GOOD, ROAMDESK_VAR_DIR=var) == "False"


def test_the_run_file_of_the_var_dir_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    """What scripts/run writes to var/run.env makes later manage.py commands behave like the
    portal it started, without exporting anything."""
    (tmp_path / "run.env").write_text("DEBUG='true'\nHOST='127.0.0.1'\nPORT='18300'\n")
    var = str(tmp_path)
    assert _setting("OCPI_BASE_URL", ROAMDESK_VAR_DIR=var) == "http://127.0.0.1:18300"
    assert _setting("OCPI_BASE_URL", PORT="18400", ROAMDESK_VAR_DIR=var) == (
        "http://127.0.0.1:18400"
    )
    # Another var dir (a test run, a second platform) does not read it.
    other = tmp_path / "other"
    other.mkdir()
    result = _boot(ROAMDESK_VAR_DIR=str(other))
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
