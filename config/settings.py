"""The one settings module. Every value an operator may change comes from the
environment (see .env.example); the defaults run on a laptop with no servers."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_secret_key,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# Off unless asked for: `python3 dev.py run` turns it on for development.
DEBUG = env_bool("DEBUG", False)
# With DEBUG on and no key, a random development key kept in VAR_DIR, marked
# "django-insecure-" so `check --deploy` flags it; with DEBUG off, a real key or no start.
SECRET_KEY = env_secret_key("SECRET_KEY", debug=DEBUG, var_dir=VAR_DIR)
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.errors.HideConnectionsFilter"
# Rotating the key keeps old unsubscribe and confirmation links working.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS")

SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000", schemes=("http", "https"))
SITE_NAME = env_str("SITE_NAME", "Paperwire")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = [SITE_URL]

INSTALLED_APPS = [
    "digest.admin.site.PaperwireAdminConfig",  # django.contrib.admin, dashboard as index
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "anymail",
    "accounts",
    "digest",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "accounts.headers.NoStorePrivatePages",
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


def _database(url: str) -> dj_database_url.DBConfig:
    try:
        config = dj_database_url.parse(url, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))
    except Exception as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["CONN_MAX_AGE"] = 0
        # WAL and IMMEDIATE let the web process and the Celery worker share the
        # file without "database is locked" errors under normal load.
        config["OPTIONS"] = {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        # A file, not memory, so that worker processes started by tests see it.
        config["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
    return config


DATABASE_URL = env_url(
    "DATABASE_URL",
    f"sqlite:///{VAR_DIR / 'paperwire.sqlite3'}",
    schemes=("sqlite", "postgres", "postgresql", "pgsql"),
)
DATABASES = {"default": _database(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
# Times read "2 Dec 2026, 18:40 UTC" everywhere, the admin included.
FORMAT_MODULE_PATH = ["config.formats"]

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns on every request until collectstatic ran
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Redis when configured: three databases of it, one per job, so that neither an eviction
# policy suited to a cache nor a `cache.clear()` (FLUSHDB) can drop a queued task. With
# REDIS_URL=redis://host:6379/N the broker is database N, task results N+1, the cache N+2;
# CELERY_BROKER_URL, CELERY_RESULT_BACKEND and CACHE_URL override each one.
REDIS_URL = env_str("REDIS_URL")


def _redis_database(url: str, offset: int) -> str:
    parts = urlsplit(url)
    base = parts.path.strip("/") or "0"
    if not base.isdigit() or int(base) + offset > 15:
        raise ImproperlyConfigured(
            f"REDIS_URL must end in a database number from 0 to 13 (it uses that one and the "
            f"next two), not {url!r}"
        )
    return urlunsplit(parts._replace(path=f"/{int(base) + offset}"))


if REDIS_URL:
    env_url("REDIS_URL", REDIS_URL, schemes=("redis", "rediss"))
CACHE_URL = env_str("CACHE_URL") or (_redis_database(REDIS_URL, 2) if REDIS_URL else "")
if CACHE_URL:
    env_url("CACHE_URL", CACHE_URL, schemes=("redis", "rediss"))
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "paperwire",
        }
    }
else:
    # A cache directory every local process shares.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# Celery: Redis in production; a SQLite file through kombu's SQLAlchemy
# transport when no REDIS_URL is given, so a laptop needs no broker server.
CELERY_BROKER_URL = (
    env_str("CELERY_BROKER_URL")
    or REDIS_URL
    or (f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}")
)
CELERY_RESULT_BACKEND = (
    env_str("CELERY_RESULT_BACKEND")
    or (_redis_database(REDIS_URL, 1) if REDIS_URL else "")
    or (f"db+sqlite:///{VAR_DIR / 'celery-results.sqlite3'}")
)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
# Nothing reads a task's return value but the `ping` round trip, which asks for its own.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
# A task is acknowledged after it ran, so a worker killed mid-task leaves it
# in the queue for another worker; tasks are written to be safe to run twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Ingest has a queue of its own, so a slow source never delays the morning's digests
# behind it; `celery -A config worker -Q celery,ingest` consumes both (or run one worker
# per queue). Everything else goes to Celery's default queue, "celery".
CELERY_TASK_ROUTES = {
    "digest.tasks.ingest_all": {"queue": "ingest"},
    "digest.tasks.ingest_source_task": {"queue": "ingest"},
}
WORKER_QUEUES = ("celery", "ingest")
if CELERY_BROKER_URL.startswith("redis"):
    # An unacknowledged message goes back to the queue after this many seconds: it must be
    # longer than any task may run (digest.checks refuses a shorter one).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=60)
    }
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Run each task in the process that queues it, with no worker: for a one-process test
# server (tests/test_browser_journeys.py), never for production.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

# Email. The default prints each message to the terminal and also writes it
# to var/mail/ as an .eml file any mail program opens.
_EMAIL_BACKENDS = {
    "console": "digest.mail.backends.ConsoleAndFileBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "postmark": "anymail.backends.postmark.EmailBackend",
    "mailgun": "anymail.backends.mailgun.EmailBackend",
    "amazon_ses": "anymail.backends.amazon_ses.EmailBackend",
    "sendgrid": "anymail.backends.sendgrid.EmailBackend",
}
_email_backend = env_str("EMAIL_BACKEND", "console")
if _email_backend not in _EMAIL_BACKENDS and "." not in _email_backend:
    raise ImproperlyConfigured(
        f"EMAIL_BACKEND must be one of {', '.join(_EMAIL_BACKENDS)} or a dotted path, "
        f"not {_email_backend!r}"
    )
EMAIL_BACKEND = _EMAIL_BACKENDS.get(_email_backend, _email_backend)
# The one provider whose tracking webhook is mounted: the one we send with, unless named.
TRACKING_WEBHOOK_PROVIDER = env_str(
    "TRACKING_WEBHOOK_PROVIDER",
    _email_backend if _email_backend in ("postmark", "mailgun", "amazon_ses", "sendgrid") else "",
)
EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Paperwire <papers@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

ANYMAIL = {
    key: value
    for key, value in {
        "POSTMARK_SERVER_TOKEN": env_str("POSTMARK_SERVER_TOKEN"),
        "POSTMARK_API_URL": env_str("POSTMARK_API_URL"),
        "MAILGUN_API_KEY": env_str("MAILGUN_API_KEY"),
        "MAILGUN_SENDER_DOMAIN": env_str("MAILGUN_SENDER_DOMAIN"),
        "MAILGUN_API_URL": env_str("MAILGUN_API_URL"),
        "MAILGUN_WEBHOOK_SIGNING_KEY": env_str("MAILGUN_WEBHOOK_SIGNING_KEY"),
        "SENDGRID_API_KEY": env_str("SENDGRID_API_KEY"),
        "WEBHOOK_SECRET": env_str("ANYMAIL_WEBHOOK_SECRET"),
    }.items()
    if value
}

# Ingest.
INGEST_HOUR_UTC = env_int("INGEST_HOUR_UTC", 5, minimum=0)
INGEST_MINUTE_UTC = env_int("INGEST_MINUTE_UTC", 30, minimum=0)
# Tests and intranet sources live on private addresses; the public internet does not.
FETCH_ALLOW_PRIVATE = env_bool("FETCH_ALLOW_PRIVATE", False)
FETCH_MAX_BYTES = env_int("FETCH_MAX_BYTES", 20 * 1024 * 1024, minimum=1024)
# One fetch of one source, every attempt, retry and wait included.
FETCH_TIMEOUT = env_float("FETCH_TIMEOUT", 60.0, minimum=0.1)
FETCH_CONNECT_TIMEOUT = env_float("FETCH_CONNECT_TIMEOUT", 10.0, minimum=0.1)
FETCH_READ_TIMEOUT = env_float("FETCH_READ_TIMEOUT", 20.0, minimum=0.1)
FETCH_RETRIES = env_int("FETCH_RETRIES", 3, minimum=0)

# Digests.
DIGEST_CHUNK_SIZE = env_int("DIGEST_CHUNK_SIZE", 200, minimum=1)
SEND_RATE_PER_SECOND = env_float("SEND_RATE_PER_SECOND", 0.0, minimum=0.0)
POSTAL_ADDRESS = env_str("POSTAL_ADDRESS", "")
LIST_UNSUBSCRIBE_MAILTO = env_str("LIST_UNSUBSCRIBE_MAILTO", "")

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {LOG_LEVEL}")
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}

# Subscriber pages and page security.
# An https SITE_URL switches on everything `manage.py check --deploy` asks for;
# each piece can still be overridden from the environment.
_HTTPS = SITE_URL.startswith("https://")


def _on_with_https(name: str) -> bool:
    # Empty (as .env.example lists it) means "follow SITE_URL", not "off".
    return env_bool(name, _HTTPS) if env_str(name).strip() else _HTTPS


SECURE_SSL_REDIRECT = _on_with_https("SECURE_SSL_REDIRECT")
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain http
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if _HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _on_with_https("SECURE_HSTS_INCLUDE_SUBDOMAINS")
SECURE_HSTS_PRELOAD = _on_with_https("SECURE_HSTS_PRELOAD")
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    # Only behind a proxy that sets this header itself, or anyone could claim https.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = _on_with_https("SESSION_COOKIE_SECURE")
CSRF_COOKIE_SECURE = _on_with_https("CSRF_COOKIE_SECURE")
SECURE_REFERRER_POLICY = "same-origin"  # token pages send no-referrer themselves
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "csp.middleware.CSPMiddleware",
)
# No inline script or style anywhere: JS and CSS are static files, nothing from a CDN.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
# Proxies in front of the web server that append to X-Forwarded-For (0: use REMOTE_ADDR).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
SIGNUP_RATE_PER_IP = env_int("SIGNUP_RATE_PER_IP", 20, minimum=1)  # form posts per hour
# The signup page's live preview is public: each one stops evaluating topics after
# PREVIEW_SECONDS, and an address gets PREVIEW_RATE_PER_IP a minute, so one address can
# hold at most a few seconds of a worker's time a minute (docs/security.md, "Previews").
PREVIEW_SECONDS = env_float("PREVIEW_SECONDS", 0.05, minimum=0.01)
PREVIEW_RATE_PER_IP = env_int("PREVIEW_RATE_PER_IP", 20, minimum=1)  # previews per minute
# Emails the signup and sign-in forms together send one mailbox (every spelling of it)
# in 24 hours, and send in all in an hour (the dashboard warns when it is reached).
FORM_EMAILS_PER_DAY = env_int("FORM_EMAILS_PER_DAY", 1, minimum=1)
FORM_EMAILS_PER_HOUR = env_int("FORM_EMAILS_PER_HOUR", 500, minimum=1)
# Admin login attempts per client (IPv4 address or IPv6 /64) and per account, per 15 minutes.
ADMIN_LOGIN_RATE_PER_IP = env_int("ADMIN_LOGIN_RATE_PER_IP", 10, minimum=1)
ADMIN_LOGIN_RATE_PER_ACCOUNT = env_int("ADMIN_LOGIN_RATE_PER_ACCOUNT", 10, minimum=1)
# Never-confirmed signups are deleted this many days after signup (and their last link).
UNCONFIRMED_DELETE_AFTER_DAYS = env_int("UNCONFIRMED_DELETE_AFTER_DAYS", 30, minimum=1)
UNCONFIRMED_DELETE_HOUR_UTC = env_int("UNCONFIRMED_DELETE_HOUR_UTC", 4, minimum=0)
# Our own log lines never show a token from an emailed link's path.
LOGGING.setdefault("filters", {})["redact_tokens"] = {"()": "accounts.redact.RedactTokens"}
LOGGING["handlers"]["console"].setdefault("filters", []).append("redact_tokens")
LOGGING.setdefault("loggers", {})["django.server"] = {"handlers": ["console"], "propagate": False}

# Delivery. See docs/delivery.md.
# A chunk holds its claims for this long from its last renewal; it renews them every
# quarter of it while it runs, so a killed worker's digests are taken over by the first
# dispatch tick a lease after it died.
DIGEST_LEASE_SECONDS = env_int("DIGEST_LEASE_SECONDS", 60, minimum=10)
# The longest one chunk goes on starting sends (plus len(chunk) / SEND_RATE_PER_SECOND):
# what it has not sent by then is released to the next tick.
DIGEST_CHUNK_SECONDS = env_int("DIGEST_CHUNK_SECONDS", 900, minimum=60)
# A digest released for a retry (provider down, throttled, lookup failed) is taken again
# by the first dispatch tick this long after.
DIGEST_RETRY_SECONDS = env_int("DIGEST_RETRY_SECONDS", 300, minimum=0)
DIGEST_MAX_ATTEMPTS = env_int("DIGEST_MAX_ATTEMPTS", 5, minimum=1)
DISPATCH_EVERY_SECONDS = env_int("DISPATCH_EVERY_SECONDS", 60, minimum=1)
SEND_CONCURRENCY = env_int("SEND_CONCURRENCY", 32, minimum=1)
SEND_RETRIES = env_int("SEND_RETRIES", 4, minimum=0)
SEND_RETRY_BACKOFF = env_float("SEND_RETRY_BACKOFF", 1.0, minimum=0.0)
SEND_MAX_WAIT = env_float("SEND_MAX_WAIT", 120.0, minimum=0.0)
# Celery time limits, (soft, hard) seconds, derived from the above. A chunk stops starting
# sends after DIGEST_CHUNK_SECONDS (plus its share of the rate limit) and then records: its
# soft limit is a lease later, its hard one a lease after that. An ingest fetch gives up
# after FETCH_TIMEOUT, retries and waits included; parsing and storing get 5 minutes.
_RATE_SHARE = DIGEST_CHUNK_SIZE / SEND_RATE_PER_SECOND if SEND_RATE_PER_SECOND else 0
SEND_TASK_TIME_LIMITS = (
    DIGEST_CHUNK_SECONDS + _RATE_SHARE + DIGEST_LEASE_SECONDS,
    DIGEST_CHUNK_SECONDS + _RATE_SHARE + 2 * DIGEST_LEASE_SECONDS,
)
INGEST_TASK_TIME_LIMITS = (FETCH_TIMEOUT + 300, FETCH_TIMEOUT + 360)
# The rest (dispatch, ping, the daily clean-up) take seconds.
CELERY_TASK_SOFT_TIME_LIMIT, CELERY_TASK_TIME_LIMIT = 300, 360
CELERY_TASK_ANNOTATIONS = {
    "digest.tasks.send_digest_chunk": {
        "soft_time_limit": SEND_TASK_TIME_LIMITS[0],
        "time_limit": SEND_TASK_TIME_LIMITS[1],
    },
    "digest.tasks.ingest_source_task": {
        "soft_time_limit": INGEST_TASK_TIME_LIMITS[0],
        "time_limit": INGEST_TASK_TIME_LIMITS[1],
    },
}
SOFT_BOUNCE_LIMIT = env_int("SOFT_BOUNCE_LIMIT", 3, minimum=1)
WEBHOOK_STALE_AFTER_DAYS = env_int("WEBHOOK_STALE_AFTER_DAYS", 7, minimum=1)
if "WEBHOOK_SECRET" not in ANYMAIL:
    # Anymail accepts anyone (with a warning) when no secret is set; an unguessable
    # per-process secret makes a forgotten ANYMAIL_WEBHOOK_SECRET refuse everyone instead.
    import secrets

    ANYMAIL["WEBHOOK_SECRET"] = f"unset:{secrets.token_urlsafe(32)}"

# Matching performance. See docs/scaling.md.
# Ranked results of this many distinct topics are kept per worker process and day's index
# (least recently used dropped first); each holds one entry per matching paper.
MATCH_TOPIC_CACHE_SIZE = env_int("MATCH_TOPIC_CACHE_SIZE", 5000, minimum=1)
# Matching by meaning (docs/matching.md): the sentence-embedding model, a directory as
# model2vec writes it. Default: the model shipped in digest/search/model/. "off" matches by
# words only; a directory that is missing or unreadable is logged and does the same.
MATCH_MODEL_DIR = env_str(
    "MATCH_MODEL_DIR", str(BASE_DIR / "digest" / "search" / "model" / "minilm-l6-m2v-256-int8")
)
