"""The one settings module. Every value an operator may change comes from the
environment (see .env.example); the defaults run on a laptop with no servers."""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_float, env_int, env_list, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-local-development-key-do-not-use-in-production"  # noqa: S105
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


def _database(url: str) -> dict:
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

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns on every request until collectstatic ran
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Redis when configured; otherwise a cache directory every local process shares.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    env_url("REDIS_URL", REDIS_URL, schemes=("redis", "rediss"))
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "paperwire",
        }
    }
else:
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
    or REDIS_URL
    or (f"db+sqlite:///{VAR_DIR / 'celery-results.sqlite3'}")
)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
CELERY_TIMEZONE = "UTC"
# A task is acknowledged after it ran, so a worker killed mid-task leaves it
# in the queue for another worker; tasks are written to be safe to run twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
if CELERY_BROKER_URL.startswith("redis"):
    # An unacknowledged message goes back to the queue after this many seconds.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=60)
    }
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

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
FETCH_TIMEOUT = env_float("FETCH_TIMEOUT", 30.0, minimum=0.1)
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
LOGGING = {
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
SIGN_IN_LINKS_PER_DAY = env_int("SIGN_IN_LINKS_PER_DAY", 3, minimum=1)  # per address
# Never-confirmed signups are deleted this many days after signup (and their last link).
UNCONFIRMED_DELETE_AFTER_DAYS = env_int("UNCONFIRMED_DELETE_AFTER_DAYS", 30, minimum=1)
UNCONFIRMED_DELETE_HOUR_UTC = env_int("UNCONFIRMED_DELETE_HOUR_UTC", 4, minimum=0)
# Our own log lines never show a token from an emailed link's path.
LOGGING.setdefault("filters", {})["redact_tokens"] = {"()": "accounts.redact.RedactTokens"}
LOGGING["handlers"]["console"].setdefault("filters", []).append("redact_tokens")
LOGGING.setdefault("loggers", {})["django.server"] = {"handlers": ["console"], "propagate": False}

# Delivery. See docs/delivery.md.
# A claimed digest not finished within its lease is taken over by the next dispatch tick;
# each claim also gets len(chunk) / SEND_RATE_PER_SECOND seconds on top.
DIGEST_LEASE_SECONDS = env_int("DIGEST_LEASE_SECONDS", 900, minimum=30)
DIGEST_MAX_ATTEMPTS = env_int("DIGEST_MAX_ATTEMPTS", 5, minimum=1)
SEND_CONCURRENCY = env_int("SEND_CONCURRENCY", 32, minimum=1)
SEND_RETRIES = env_int("SEND_RETRIES", 4, minimum=0)
SEND_RETRY_BACKOFF = env_float("SEND_RETRY_BACKOFF", 1.0, minimum=0.0)
SEND_MAX_WAIT = env_float("SEND_MAX_WAIT", 120.0, minimum=0.0)
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
