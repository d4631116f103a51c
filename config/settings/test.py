"""Test settings: the base settings with safe defaults for values production must set.

Tests run against PostgreSQL and Redis whenever DATABASE_URL / REDIS_URL are set (CI sets them);
otherwise against SQLite and the filesystem broker.
"""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("OCPI_BASE_URL", "http://testserver")
os.environ.setdefault(
    # A fixed, well-formed Fernet key used by tests only.
    "OCPI_TOKEN_ENCRYPTION_KEYS",
    "dGVzdC1rZXktMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY=",
)
# One var dir (SQLite file, filesystem broker) per test run, so that test runs side by side never
# consume each other's tasks; worker subprocesses inherit it through the environment. The
# session's conftest removes it at the end.
os.environ.setdefault(
    "ROAMDESK_VAR_DIR", os.path.join(tempfile.gettempdir(), f"roamdesk-test-var-{os.getpid()}")
)

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A file, not memory, when on SQLite: Celery worker processes in the tests share the database.
# One file per test run, so that parallel runs do not trip over each other.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")  # noqa: F405
    }
