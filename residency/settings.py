"""Rota settings: one module, driven by the environment (see .env.example)."""

import datetime
import os
from pathlib import Path

import dj_database_url

from residency import embedded

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(int(default))).strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DEBUG", default=True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise RuntimeError("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "dev-only-insecure-key-set-SECRET_KEY-in-production"
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "*").split(",") if h.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_rq",
    "pgtrigger",
    "pghistory",
    "residency",
    "shifts",
    "swaps",
    "scheduling",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "residency.urls"
WSGI_APPLICATION = "residency.wsgi.application"

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
                "residency.notifications.unread_count",
            ],
        },
    },
]

# Without DATABASE_URL / REDIS_URL, start (or reuse) the project-local servers under var/.
# Never SQLite, never a fake Redis: the concurrency guarantees are PostgreSQL's and Redis's.
DATABASE_URL = os.environ.get("DATABASE_URL") or embedded.postgres_database_url()
REDIS_URL = os.environ.get("REDIS_URL") or embedded.redis_url()

DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
DATABASES["default"].setdefault("OPTIONS", {}).update(
    {
        # A statement that waits this long for a row lock fails with a "busy, try again" instead of
        # hanging a request; services that lock set a tighter one per transaction.
        "options": "-c lock_timeout=10000",
    }
)

RQ_QUEUES = {
    "default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600},
    # E-mail delivery (issue 10): its own queue, so mail never waits behind a long solve.
    "notifications": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 300},
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "America/New_York")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "3600"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Rota behaviour.
# Row-lock wait inside services that lock rows (swap execution, bulk edits, generation's write).
ROTA_LOCK_TIMEOUT_MS = int(os.environ.get("ROTA_LOCK_TIMEOUT_MS", "2000"))
# How many times a transaction that hit a deadlock / serialization failure is retried.
ROTA_TRANSACTION_RETRIES = int(os.environ.get("ROTA_TRANSACTION_RETRIES", "3"))
# Whether an accepted swap waits for a coordinator's approval before it executes.
ROTA_SWAPS_REQUIRE_APPROVAL = env_bool("ROTA_SWAPS_REQUIRE_APPROVAL", default=False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"rq.worker": {"level": "INFO"}, "pgserver": {"level": "WARNING"}},
}

# --- Editing and the JSON API (issue 3) ---
# CSRF refusals answer JSON under /api/ (the API keeps CSRF on; see docs/api.md).
CSRF_FAILURE_VIEW = "residency.views.csrf_failure"

# --- swaps (issue 4) ---
# A swap may not touch a block that has started or starts within this many days (0: the block
# must start tomorrow or later).
ROTA_SWAP_NOTICE_DAYS = int(os.environ.get("ROTA_SWAP_NOTICE_DAYS", "0"))
# How long after execution a coordinator may roll a swap back (if neither assignment changed).
ROTA_SWAP_ROLLBACK_HOURS = int(os.environ.get("ROTA_SWAP_ROLLBACK_HOURS", "24"))

# --- Schedule generation (scheduling app; docs/scheduling.md) ---
# Default solver time limit and worker threads of a generation run (a run may ask for others).
ROTA_GENERATION_TIME_LIMIT_SECONDS = int(os.environ.get("ROTA_GENERATION_TIME_LIMIT_SECONDS", "30"))
ROTA_GENERATION_WORKERS = int(os.environ.get("ROTA_GENERATION_WORKERS", "2"))
# Most consecutive blocks of heavy rotations a resident may have.
ROTA_GENERATION_MAX_CONSECUTIVE_HEAVY = int(
    os.environ.get("ROTA_GENERATION_MAX_CONSECUTIVE_HEAVY", "2")
)
# The per-year Redis lock: its expiry (renewed every third of it while the job runs) and how long
# a job waits to acquire it.
ROTA_GENERATION_LOCK_TTL_SECONDS = int(os.environ.get("ROTA_GENERATION_LOCK_TTL_SECONDS", "30"))
ROTA_GENERATION_LOCK_WAIT_SECONDS = int(os.environ.get("ROTA_GENERATION_LOCK_WAIT_SECONDS", "5"))
# A queued run whose rq job is missing is reaped only after this long (it may be mid-enqueue).
ROTA_GENERATION_REAP_GRACE_SECONDS = int(os.environ.get("ROTA_GENERATION_REAP_GRACE_SECONDS", "60"))

# --- operations: outages and production connections (issue 6) ---
# A request that meets a database or Redis outage gets a clear 503 "try again" (page or JSON),
# not a 500; the next request reconnects, so the app recovers without a restart.
MIDDLEWARE.append("residency.middleware.ServiceUnavailableMiddleware")
# Persistent connections are opt-in (DB_CONN_MAX_AGE seconds); health checks drop a connection
# that died (a PostgreSQL restart) before a request uses it. connect_timeout: an unreachable
# server fails fast instead of hanging a worker.
DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("DB_CONN_MAX_AGE", "0"))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 5)

# --- History and notifications (issue 10; docs/architecture.md) ---
# Every write request runs inside a history context (who, through what); services add theirs.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "residency.history.HistoryContextMiddleware",
)
# Event tables refuse UPDATE and DELETE (a trigger): history is append-only.
PGHISTORY_APPEND_ONLY = True
# Mail: the console backend in development; SMTP when EMAIL_HOST is set (docs/operations.md).
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=True)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "rota@localhost")
# Links in e-mails: the site's public address, e.g. https://rota.example.org
ROTA_SITE_URL = os.environ.get("ROTA_SITE_URL", "http://localhost:8000").rstrip("/")
# A notification's e-mail is tried this many times (backoff 1, 2, 4... minutes between tries,
# retried by `manage.py deliver_notifications`), then shown as failed in the admin.
ROTA_NOTIFICATION_MAX_ATTEMPTS = int(os.environ.get("ROTA_NOTIFICATION_MAX_ATTEMPTS", "5"))
# A claim older than this (a worker died mid-send) is handed to the next delivery run.
ROTA_NOTIFICATION_CLAIM_TIMEOUT_SECONDS = int(
    os.environ.get("ROTA_NOTIFICATION_CLAIM_TIMEOUT_SECONDS", "600")
)
# Foreign keys in event tables are plain ids without constraints (history outlives the rows);
# only the indexes the history pages use are declared (residency/history_models.py).
PGHISTORY_FOREIGN_KEY_FIELD = __import__("pghistory").ForeignKey(db_index=False)
# --- Hardening (issue 14) ---
# Text PostgreSQL cannot store (NUL, lone surrogates) in a query string or form post is a 400.
MIDDLEWARE.insert(1, "residency.middleware.UnstorableInputMiddleware")

# Login throttling (django-axes): after ROTA_LOGIN_FAILURE_LIMIT wrong passwords in a row for
# one username, or from one client address, further attempts are refused for
# ROTA_LOGIN_COOLOFF_MINUTES with a clear message on the login page (even with the right
# password). A coordinator unlocks early by deleting the "access attempt" in the admin.
# The address is REMOTE_ADDR: behind a reverse proxy, set AXES_IPWARE_PROXY_COUNT (docs).
INSTALLED_APPS.append("axes")
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked-out username or address first
    "django.contrib.auth.backends.ModelBackend",
]
MIDDLEWARE.append("axes.middleware.AxesMiddleware")  # last, as axes asks
AXES_ENABLED = env_bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = int(os.environ.get("ROTA_LOGIN_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = datetime.timedelta(
    minutes=int(os.environ.get("ROTA_LOGIN_COOLOFF_MINUTES", "15"))
)
# Two independent counters: per username and per client address.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_CALLABLE = "residency.views.login_locked_out"
AXES_IPWARE_PROXY_COUNT = (
    int(os.environ["AXES_IPWARE_PROXY_COUNT"])
    if os.environ.get("AXES_IPWARE_PROXY_COUNT")
    else None
)
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if AXES_IPWARE_PROXY_COUNT else ["REMOTE_ADDR"]
)

# Django's stronger password validators. They judge passwords people choose (the password
# change form, createsuperuser); set_password() does not call them, so demo seeding and tests
# keep their fixed passwords.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Content-Security-Policy (django-csp 4): scripts, styles and everything else only from this
# site; templates hold no inline script, style or event handler (JSON data travels in
# json_script blocks, which are not executed). The job dashboard (/admin/rq/, a third-party
# app with inline scripts) gets a relaxed policy of its own (residency/rq_dashboard.py).
INSTALLED_APPS.append("csp")
MIDDLEWARE.insert(1, "csp.middleware.CSPMiddleware")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
