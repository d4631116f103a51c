"""roamdesk settings: everything comes from the environment (see README's table).

Production differs from development only by environment variables. Bad values stop the process
at start-up (``config.env`` readers raise ``ImproperlyConfigured``).
"""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

from config.broker import filesystem_transport_options
from config.env import env_bool, env_float, env_int, env_list, env_match, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("ROAMDESK_VAR_DIR", str(BASE_DIR / "var")) or BASE_DIR / "var")

VAR_DIR.mkdir(parents=True, exist_ok=True)

# `scripts/run` writes the development run's variables (DEBUG, HOST, PORT and whatever else it
# was started with) to var/run.env, so that every `manage.py` command, worker and server using
# the same var dir behaves like the portal it started. Variables set in the environment win; a
# process pointed at another var dir (tests, a second platform) does not read this one.
load_dotenv(VAR_DIR / "run.env", override=False)

DEBUG = env_bool("DEBUG", False)

_secret = env_str("SECRET_KEY")
if _secret is None:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set unless DEBUG=true (`./scripts/run` records DEBUG=true for "
            "this checkout in var/run.env, which manage.py reads)"
        )
    _secret = "insecure-development-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY: str = _secret

# The development server's address (`scripts/run` reads the same two variables): in DEBUG the
# URL we announce to partners follows them unless OCPI_BASE_URL is set.
HOST = env_str("HOST", "localhost") or "localhost"
PORT = env_int("PORT", 8000, minimum=1)
_ANY_ADDRESS = {"0.0.0.0", "::", "[::]"}  # noqa: S104 (names the wildcard, binds nothing)
_public_host = "localhost" if HOST in _ANY_ADDRESS else HOST
if ":" in _public_host and not _public_host.startswith("["):
    _public_host = f"[{_public_host}]"  # an IPv6 literal in a URL

_dev_hosts = ["localhost", "127.0.0.1", "[::1]"]
if _public_host not in _dev_hosts:
    _dev_hosts.append(_public_host)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", _dev_hosts if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set unless DEBUG=true")

# --- OCPI identity --------------------------------------------------------------------------
OCPI_BASE_URL = env_url(
    "OCPI_BASE_URL", f"http://{_public_host}:{PORT}" if DEBUG else None, schemes=("http", "https")
)
if OCPI_BASE_URL is None:
    raise ImproperlyConfigured("OCPI_BASE_URL must be set unless DEBUG=true")
OCPI_BASE_URL = OCPI_BASE_URL.rstrip("/")
OCPI_COUNTRY_CODE = env_match(
    "OCPI_COUNTRY_CODE", "NL", r"[A-Za-z]{2}", what="an ISO 3166-1 alpha-2 country code"
).upper()
OCPI_PARTY_ID = env_match(
    "OCPI_PARTY_ID", "RDK", r"[A-Za-z0-9]{3}", what="a 3-character party id"
).upper()
OCPI_ROLES = env_list(
    "OCPI_ROLES",
    ["CPO", "EMSP"],
    allowed=("CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP"),
    transform=lambda s: s.strip().upper(),
)
if not OCPI_ROLES:
    raise ImproperlyConfigured("OCPI_ROLES must name at least one role")
OCPI_BUSINESS_NAME = env_str("OCPI_BUSINESS_NAME", "roamdesk") or "roamdesk"


def _fernet_keys() -> list[str]:
    keys = env_list("OCPI_TOKEN_ENCRYPTION_KEYS", [])
    if not keys:
        if not DEBUG:
            raise ImproperlyConfigured(
                "OCPI_TOKEN_ENCRYPTION_KEYS must be set unless DEBUG=true "
                "(generate one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())')"
            )
        digest = hashlib.sha256(f"roamdesk-dev-token-key:{SECRET_KEY}".encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    for key in keys:
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                "OCPI_TOKEN_ENCRYPTION_KEYS holds a value that is not a Fernet key "
                "(32 url-safe base64-encoded bytes)"
            ) from None
    return keys


# The first key encrypts; all keys decrypt (rotation: prepend a new key, re-encrypt, drop old).
OCPI_TOKEN_ENCRYPTION_KEYS = _fernet_keys()

# --- OCPI transport ---------------------------------------------------------------------------
OCPI_PAGE_LIMIT_MAX = env_int("OCPI_PAGE_LIMIT_MAX", 100, minimum=1)
# Partners on this machine or the local network (http://, loopback, private addresses): allowed
# in development unless the variable says otherwise, refused in production unless it says so.
OCPI_OUTBOUND_ALLOW_LOCAL = env_bool("OCPI_OUTBOUND_ALLOW_LOCAL", DEBUG)
OCPI_OUTBOUND_TIMEOUT = env_int("OCPI_OUTBOUND_TIMEOUT", 20, minimum=1)
OCPI_OUTBOUND_MAX_RESPONSE_BYTES = env_int(
    "OCPI_OUTBOUND_MAX_RESPONSE_BYTES", 20 * 1024 * 1024, minimum=1024
)
OCPI_EXCHANGE_LOG_RETENTION_DAYS = env_int("OCPI_EXCHANGE_LOG_RETENTION_DAYS", 30, minimum=1)
OCPI_REGISTRATION_TOKEN_DAYS = env_int("OCPI_REGISTRATION_TOKEN_DAYS", 14, minimum=1)
# After a credentials rotation (ours or the partner's), the replaced token still works this long,
# so that the partner's requests in flight do not fail; 0 ends it at once.
OCPI_TOKEN_ROTATION_OVERLAP_SECONDS = env_int("OCPI_TOKEN_ROTATION_OVERLAP_SECONDS", 120, minimum=0)
# Outbox: retries with exponential backoff and jitter; after the last attempt a delivery is dead.
OCPI_DELIVERY_MAX_ATTEMPTS = env_int("OCPI_DELIVERY_MAX_ATTEMPTS", 12, minimum=1)
OCPI_DELIVERY_BACKOFF_BASE = env_float("OCPI_DELIVERY_BACKOFF_BASE", 5.0, minimum=0.01)
OCPI_DELIVERY_BACKOFF_MAX = env_float("OCPI_DELIVERY_BACKOFF_MAX", 3600.0, minimum=0.01)
OCPI_DELIVERY_BATCH = env_int("OCPI_DELIVERY_BATCH", 50, minimum=1)
# How long one deliver job sends before it makes way for the other connections' jobs.
OCPI_DELIVERY_JOB_SECONDS = env_float("OCPI_DELIVERY_JOB_SECONDS", 20.0, minimum=0.1)
# Waits up to this long are re-enqueued in the broker; longer ones wait in the database for the
# periodic sweep.
OCPI_DELIVERY_SHORT_WAIT = env_float("OCPI_DELIVERY_SHORT_WAIT", 10.0, minimum=0)
OCPI_DELIVERY_SWEEP_SECONDS = env_float("OCPI_DELIVERY_SWEEP_SECONDS", 15.0, minimum=0.5)
# How long a claimed delivery stays reserved for its worker; once it expires, the sweep takes the
# worker for dead and makes the delivery due again. Default: longer than any single exchange.
OCPI_DELIVERY_LEASE_SECONDS = env_float(
    "OCPI_DELIVERY_LEASE_SECONDS", OCPI_OUTBOUND_TIMEOUT * 5 + 30.0, minimum=1
)

# Pull sync: how often the scheduler looks for due syncs, and how long a run keeps its claim
# between two pages before another worker may take the run over (and resume it).
OCPI_SYNC_CHECK_SECONDS = env_float("OCPI_SYNC_CHECK_SECONDS", 60.0, minimum=1)
OCPI_SYNC_LEASE_SECONDS = env_float(
    "OCPI_SYNC_LEASE_SECONDS", OCPI_OUTBOUND_TIMEOUT * 5 + 30.0, minimum=1
)

# Remote commands: who executes them at the chargers (a dotted path to a class implementing
# apps.commands.backend.ChargePointBackend; default the simulator), how long an eMSP is told to
# wait for a result, how often overdue commands are swept to TIMEOUT, the simulated power.
CHARGE_POINT_BACKEND = (
    env_str("CHARGE_POINT_BACKEND", "apps.commands.simulator.SimulatorBackend")
    or "apps.commands.simulator.SimulatorBackend"
)
COMMANDS_RESULT_TIMEOUT = env_int("COMMANDS_RESULT_TIMEOUT", 30, minimum=1)
COMMANDS_SWEEP_SECONDS = env_float("COMMANDS_SWEEP_SECONDS", 5.0, minimum=0.5)
COMMANDS_SIMULATOR_POWER_KW = env_str("COMMANDS_SIMULATOR_POWER_KW", "11") or "11"
COMMANDS_SIMULATOR_METER_SECONDS = env_float("COMMANDS_SIMULATOR_METER_SECONDS", 60.0, minimum=1)

# Smart charging: who applies charging profiles at the chargers (a dotted path to a class
# implementing apps.smart_charging.backend.ChargingProfileBackend; default the simulator), and
# the timeout we announce for an asynchronous result.
CHARGING_PROFILE_BACKEND = (
    env_str(
        "CHARGING_PROFILE_BACKEND", "apps.smart_charging.simulator.SimulatedChargingProfileBackend"
    )
    or "apps.smart_charging.simulator.SimulatedChargingProfileBackend"
)
CHARGING_PROFILE_TIMEOUT = env_int("CHARGING_PROFILE_TIMEOUT", 30, minimum=1)
CHARGING_PROFILE_SWEEP_SECONDS = env_float("CHARGING_PROFILE_SWEEP_SECONDS", 15.0, minimum=1)

# OCPI version URLconfs are included without a trailing slash (".../2.2.1" is the version
# details URL) and their module routes start with "/": that is deliberate.
SILENCED_SYSTEM_CHECKS = ["urls.W002"]

# --- Applications -----------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "apps.core",
    "apps.partners",
    "apps.locations",
    "apps.tariffs",
    "apps.tokens",
    "apps.charging_sessions",
    "apps.cdrs",
    "apps.commands",
    "apps.smart_charging",
    "apps.ocpi",
    "apps.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "apps.ocpi.common.middleware.OcpiMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its lockout answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
# Embedded default: a SQLite file under var/. CI and production set DATABASE_URL (PostgreSQL).
_default_db = f"sqlite:///{VAR_DIR / 'roamdesk.sqlite3'}"
try:
    DATABASES = {
        "default": dj_database_url.parse(
            env_str("DATABASE_URL", _default_db) or _default_db,
            conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
            conn_health_checks=True,
        )
    }
except ValueError as exc:  # dj-database-url raises ValueError on unknown schemes
    raise ImproperlyConfigured(f"DATABASE_URL is not usable: {exc}") from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Workers and the web server share the file: take the write lock when a transaction starts
    # (a read-then-write transaction would otherwise fail with "database is locked").
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Time and language ------------------------------------------------------------------------
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
USE_I18N = True

# --- Static files -----------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"

# --- Security ---------------------------------------------------------------------------------
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# HTTPS: a production whose public URL is https redirects plain HTTP and sends HSTS unless told
# otherwise. Behind a proxy that terminates TLS, SECURE_PROXY_SSL_HEADER names the header it sets
# (e.g. X-Forwarded-Proto: https); the proxy must overwrite that header from clients, and without
# it every request looks like plain HTTP and the redirect loops.
_https = OCPI_BASE_URL.startswith("https://") and not DEBUG
_proxy_ssl_header = env_match(
    "SECURE_PROXY_SSL_HEADER", "", r"([A-Za-z0-9-]+)?", what="an HTTP header name"
)
if _proxy_ssl_header:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", _https)
# Load balancers and orchestrators probe over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if _https else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if not SECURE_HSTS_PRELOAD:
    # Asking browsers to preload the domain is the domain owner's decision (it binds every
    # subdomain and takes months to undo): off unless chosen, and no warning for not choosing.
    SILENCED_SYSTEM_CHECKS.append("security.W021")

# Content-Security-Policy (django-csp) on every answer; it matters for the admin: scripts only
# from our own static files (neither Django's admin nor our screens use inline scripts), styles
# inline too (our admin screens carry <style> blocks and style attributes), no framing.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_int("PASSWORD_MIN_LENGTH", 12, minimum=8)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Brute-force protection of the admin login (django-axes): after AXES_FAILURE_LIMIT wrong
# passwords for one username from one source, that pair is refused (HTTP 429) until the
# cool-off has passed or an admin deletes the attempt (Axes -> Access attempts). A success resets
# the count. Only Django's own authentication is counted: OCPI and its tokens never go through it.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # The password, then the TOTP code of a user who has a confirmed device (apps.core.otp).
    "apps.core.otp.PasswordAndTotpBackend",
]
# Second factor: optional per user (a confirmed TOTP device asks for its code); on, a user
# without a device cannot log in at all (set the devices up first).
ADMIN_REQUIRE_2FA = env_bool("ADMIN_REQUIRE_2FA", False)
OTP_TOTP_ISSUER = OCPI_BUSINESS_NAME
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "apps.core.security.client_ip"
# How many reverse proxies of ours stand in front (each appends to X-Forwarded-For); 0 = none,
# the caller's address is REMOTE_ADDR. Behind a proxy without it every login shares one source.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)

# --- Redis, cache and Celery ------------------------------------------------------------------
REDIS_URL = env_url("REDIS_URL", None, schemes=("redis", "rediss", "unix"))
CELERY_FILESYSTEM_DIR = VAR_DIR / "celery"

if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 3600}
else:
    # Without Redis, jobs still run: kombu's filesystem transport keeps the queue as files
    # under var/celery/, and results go to files too. Good for one machine, not for a cluster.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # kombu's filesystem transport, with messages that appear only once written whole
    # (config.broker makes "filesystem://" name it).
    CELERY_BROKER_URL = "filesystem://"
    CELERY_RESULT_BACKEND = f"file://{CELERY_FILESYSTEM_DIR / 'results'}"
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_transport_options(CELERY_FILESYSTEM_DIR)
    # Remote control and events are broadcasts (fanout): on the filesystem transport each one
    # becomes a file per bound queue, and the queues of workers that stopped stay bound, so
    # their files pile up for ever. The embedded default does without them.
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
    CELERY_WORKER_SEND_TASK_EVENTS = False

# Two queues: bulk work (pushes, pulls, sweeps) on the default one, and time-critical work on
# its own ("realtime": commands and their results, charging profiles), so that a START_SESSION
# never waits behind thousands of pushes. `scripts/run` starts one worker per queue; production
# runs at least one worker with `-Q realtime` beside the bulk workers (README).
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_REALTIME_QUEUE = "realtime"
CELERY_TASK_ROUTES = {
    name: {"queue": CELERY_REALTIME_QUEUE}
    for name in (
        "roamdesk.commands.execute",
        "roamdesk.commands.sweep",
        "roamdesk.ocpi.charging_profile_execute",
        "roamdesk.ocpi.charging_profile_expire",
        "roamdesk.ocpi.charging_profile_result_deliver",
        "roamdesk.ocpi.charging_profile_send",
        "roamdesk.ocpi.charging_profile_sweep",
    )
}
# Results are kept only for the tasks whose result someone reads (they say so with
# ignore_result=False); the rest would fill the result backend (files under var/) for nothing.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240, minimum=1)
CELERY_RESULT_EXPIRES = 3600
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Only one beat sends tasks (config.beat.LockedScheduler); a standby takes over this many seconds
# after the leader stops refreshing its lock.
CELERY_BEAT_SCHEDULER = "config.beat:LockedScheduler"
CELERY_BEAT_LOCK_TTL = env_float("CELERY_BEAT_LOCK_TTL", 60.0, minimum=1.0)

# --- REST framework ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}

# --- Admin ------------------------------------------------------------------------------------
# Changelists of large tables count at most this many rows (see apps.core.admin).
ADMIN_COUNT_CAP = env_int("ADMIN_COUNT_CAP", 10_000, minimum=100)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO") or "INFO"},
}
