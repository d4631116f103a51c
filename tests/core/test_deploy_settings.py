"""Production settings (DEBUG off, an https public URL) pass `check --deploy` and behave as
they claim behind a TLS-terminating proxy: HTTP redirected to HTTPS, HSTS, secure cookies and a
Content-Security-Policy on the admin, /healthz reachable over plain HTTP for probes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION = {
    "SECRET_KEY": "p9Xv2LqT8rWm3ZsK7yNc4FbH6jDg1QeA5uRt0VoIiJlMnBxCkEwSaYdGhUfPzOq",
    "ALLOWED_HOSTS": "roamdesk.example",
    "OCPI_BASE_URL": "https://roamdesk.example",
    "OCPI_TOKEN_ENCRYPTION_KEYS": "dGVzdC1rZXktMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY=",
    "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
}


def _run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    clean.update(
        PRODUCTION,
        DJANGO_SETTINGS_MODULE="config.settings.base",
        ROAMDESK_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        **env,
    )
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_in_production_settings(tmp_path: Path) -> None:
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_about_a_production_on_plain_http(tmp_path: Path) -> None:
    # The checks are live: an http public URL gets no redirect and no HSTS, and says so.
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        tmp_path,
        OCPI_BASE_URL="http://roamdesk.example",
    )
    assert result.returncode != 0
    assert "security.W004" in result.stderr
    assert "security.W008" in result.stderr


PROBE = """
import json, django
django.setup()
from django.test import Client
c = Client(HTTP_HOST="roamdesk.example")
plain = c.get("/admin/login/")
tls = c.get("/admin/login/", HTTP_X_FORWARDED_PROTO="https")
health = c.get("/healthz")
print(json.dumps({
    "plain": [plain.status_code, plain.get("Location", "")],
    "tls": [tls.status_code, dict(tls.headers), [m.output() for m in tls.cookies.values()]],
    "health": health.status_code,
}))
"""


def test_behind_the_proxy_http_is_redirected_and_https_answers_hardened(tmp_path: Path) -> None:
    migrate = _run(["manage.py", "migrate", "-v", "0"], tmp_path)
    assert migrate.returncode == 0, migrate.stderr
    result = _run(["-c", PROBE], tmp_path)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["plain"] == [301, "https://roamdesk.example/admin/login/"]
    status, headers, cookies = seen["tls"]
    assert status == 200
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp
    assert cookies
    assert all("Secure" in c for c in cookies)
    assert seen["health"] == 200  # probes over plain HTTP are not redirected
