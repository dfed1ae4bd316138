"""Evergreen settings, read from the environment (and an optional .env file)."""

import os
import secrets
import socket
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Production unless told otherwise: a deployment that forgets a setting refuses to
# start rather than run insecurely. bin/run and the tests set
# EVERGREEN_MODE=development (a generated local secret, localhost, plain HTTP).
EVERGREEN_MODE = env("EVERGREEN_MODE", default="production")
if EVERGREEN_MODE not in ("production", "development"):
    raise ImproperlyConfigured(
        f"EVERGREEN_MODE is {EVERGREEN_MODE!r}; use 'production' or 'development'."
    )
DEVELOPMENT = EVERGREEN_MODE == "development"
# Never on by default, not even in development: the debug page shows settings.
DEBUG = env.bool("DEBUG", default=False)


def _local_secret() -> str:
    """A secret made once for this checkout (development only), kept out of git."""
    path = BASE_DIR / ".secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = env("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEVELOPMENT:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. A deployment needs its own: "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'. "
            "To try Evergreen locally, use bin/run (EVERGREEN_MODE=development)."
        )
    SECRET_KEY = _local_secret()
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"] if DEVELOPMENT else []
)
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS is not set: list the host names this deployment answers to "
        "(comma-separated), e.g. ALLOWED_HOSTS=evergreen.example.com."
    )
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# HTTPS. In production every default is the safe one; behind a proxy that
# terminates TLS, set SECURE_PROXY_SSL_HEADER=true so Django trusts its
# X-Forwarded-Proto header (and only then: the proxy must set it). See
# docs/operations.md.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEVELOPMENT)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEVELOPMENT)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEVELOPMENT)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEVELOPMENT else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEVELOPMENT)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEVELOPMENT)
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The health check answers over plain HTTP (load balancers probe it that way).
SECURE_REDIRECT_EXEMPT = [r"^api/health/$"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    # Swagger UI's files, served by the project (pinned by this package's version): the
    # API docs work without the internet and never change under a deployment.
    "drf_spectacular_sidecar",
    "django_q",
    "core",
    "companies",
    "generation",
    "recommendations",
    "deliverables",
    "reviews",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files from STATIC_ROOT (filled by collectstatic) under any server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Batches cache-hit counters so a cached read costs no write per item.
]

ROOT_URLCONF = "config.urls"

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

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
_db = DATABASES["default"]
_db_options = _db.setdefault("OPTIONS", {})
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # Several web workers, their threads and the Django-Q2 cluster share one file.
    # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock
    # when a transaction begins, so two transactions never both read and then
    # fail to upgrade to a write ("database is locked"); `timeout` waits for it.
    _db_options.setdefault("timeout", 20)
    _db_options.setdefault("transaction_mode", "IMMEDIATE")
    _db_options.setdefault("init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
    _db.setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
elif _db["ENGINE"] == "django.db.backends.postgresql":
    # Connections of this app can be told apart (and counted) in pg_stat_activity.
    _db_options.setdefault("application_name", env("DB_APPLICATION_NAME", default="evergreen"))
    # Behind PgBouncer in transaction mode (docs/scaling.md) consecutive statements may
    # run on different server connections, so nothing may live in a session between
    # transactions. Django's queries already bind parameters on the client and never
    # prepare a statement (prepare_threshold None: PgBouncer before 1.21 cannot route
    # prepared statements), and no code takes a session-level advisory lock; what is
    # left is the server-side cursor of QuerySet.iterator(), declared outside a
    # transaction: turned off here.
    if env.bool("DB_TRANSACTION_POOLER", default=False):
        _db["DISABLE_SERVER_SIDE_CURSORS"] = True
    # Under ASGI every request runs in a thread of its own, and a persistent
    # connection (CONN_MAX_AGE > 0) belongs to its thread: it is not reused, it
    # leaks. A per-process pool bounds the connections instead (docs/operations.md).
    # The Django-Q2 cluster forks its processes, and a pooled connection must not
    # cross a fork (parent and child would talk over one socket): the cluster never
    # pools; each of its processes holds at most one connection.
    _in_qcluster = len(sys.argv) > 1 and sys.argv[1] == "qcluster"
    if env.bool("DB_POOL", default=True) and not _in_qcluster:
        _db["CONN_MAX_AGE"] = 0  # required by the pool
        _db_options.setdefault(
            "pool",
            {
                "min_size": env.int("DB_POOL_MIN_SIZE", default=1),
                "max_size": env.int("DB_POOL_MAX_SIZE", default=4),
                # Seconds a request waits for a free connection before failing.
                "timeout": env.float("DB_POOL_TIMEOUT", default=30.0),
            },
        )
    else:
        _db.setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
        _db["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=True)
else:
    _db.setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))

# The hub's LISTEN (generation/events.py) needs a session of its own for the life of
# the process, which a transaction-pooling PgBouncer cannot give: behind one, point
# this at PostgreSQL itself. Empty: the connection settings of DATABASE_URL.
LISTEN_DATABASE_URL = env("LISTEN_DATABASE_URL", default="")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# collectstatic writes each file under a name with its content's hash, plus a gzip
# copy; pages link the hashed names, so WhiteNoise serves them with a far-future
# immutable Cache-Control (a changed file is a new URL), plain names with its 60 s.
# A file missing from the manifest is an error when a page links it (DEBUG off):
# every server runs collectstatic first (bin/run, the browser and server tests).
# No brotli copies: docs/operations.md says why.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# The project's own sign-in page (templates/registration/), for every member, not the admin's.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
STATICFILES_DIRS = [BASE_DIR / "static"]

# --- Caches. "default" holds what generate-once makes exact (content representations
# keyed by row and revision, a company's read lookups keyed by its read version): a
# stale entry is never asked for, so a cache per process is correct, and the
# default. "shared" holds what must be counted across every worker (the throttles):
# a table of the default database (created by migration generation 0006, like
# `manage.py createcachetable`). With REDIS_CACHE_URL both live in Redis, shared by
# every worker and host.
REDIS_CACHE_URL = env("REDIS_CACHE_URL", default="")
if REDIS_CACHE_URL:
    _redis = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_CACHE_URL,
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="evergreen"),
    }
    CACHES = {"default": _redis, "shared": _redis}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "evergreen",
            # Entries: content items and companies; the oldest go first past this.
            "OPTIONS": {"MAX_ENTRIES": env.int("LOCAL_CACHE_MAX_ENTRIES", default=50_000)},
        },
        "shared": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "evergreen_cache",
        },
    }

# Cache hits and showings are counted in memory and written every this many seconds
# by a thread of each process (generation/writebehind.py), and at exit. 0: no
# thread, written by flush_now() or at exit (config/test_settings.py: the tests flush
# by hand).
HIT_FLUSH_SECONDS = env.float("HIT_FLUSH_SECONDS", default=5.0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "core.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    # JSON in, JSON out: bodies with a NUL, a lone surrogate or deep nesting are a 400.
    "DEFAULT_PARSER_CLASSES": ["core.parsers.SafeJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        # Endpoints that can spend money on a model call.
        # Counted only when a request enters the generation path (it may call the
        # model); a read served from stored content is not counted (generation/throttles.py).
        "generation": env("GENERATION_THROTTLE_RATE", default="60/minute"),
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Evergreen API",
    "DESCRIPTION": "AI content generated once, kept in PostgreSQL, served many times.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several lifecycles have a field called "status": give each enum its own name.
    "ENUM_NAME_OVERRIDES": {
        "ContentStatusEnum": "recommendations.lifecycle.Status.choices",
        "StepStatusEnum": "recommendations.models.StepStatus.choices",
        "GenerationStatusEnum": "generation.models.GenerationStatus.choices",
        "DeliverableStatusEnum": "deliverables.models.DeliverableStatus.choices",
    },
}

# --- Generation -------------------------------------------------------------
OPENAI_API_KEY = env("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env("OPENAI_BASE_URL", default="") or None
OPENAI_MODEL = env("OPENAI_MODEL", default="gpt-4o-mini")
# "openai" or "offline"; offline is the default whenever no key is set.
EVERGREEN_PROVIDER = env("EVERGREEN_PROVIDER", default="openai" if OPENAI_API_KEY else "offline")

# Retry policy for provider calls: transient failures only (generation/retry.py).
EVERGREEN_RETRY = {
    "max_attempts": env.int("RETRY_MAX_ATTEMPTS", default=4),
    "base_delay": env.float("RETRY_BASE_DELAY", default=0.5),
    "max_delay": env.float("RETRY_MAX_DELAY", default=8.0),
    "total_timeout": env.float("RETRY_TOTAL_TIMEOUT", default=30.0),
    "request_timeout": env.float("OPENAI_REQUEST_TIMEOUT", default=30.0),
}
# The timings below follow from the retry budget (docs/operations.md):
# a claim outlives its owner's whole budget plus the time to write the result;
# a waiter waits past a dead owner's lease, so it can take the claim over;
# a background task may run as long as a lease (Q_TIMEOUT), and a task whose
# worker was killed is delivered again soon after (Q_RETRY > Q_TIMEOUT).
EVERGREEN_LEASE_SECONDS = env.int(
    "GENERATION_LEASE_SECONDS", default=int(EVERGREEN_RETRY["total_timeout"]) + 10
)
EVERGREEN_WAIT_SECONDS = env.float(
    "GENERATION_WAIT_SECONDS", default=float(EVERGREEN_LEASE_SECONDS + 5)
)
# Server-Sent Events: a comment line this often keeps proxies from closing an idle
# stream; a stream ends after the maximum and the client resumes with Last-Event-ID.
EVERGREEN_SSE_HEARTBEAT = env.float("SSE_HEARTBEAT_SECONDS", default=15.0)
EVERGREEN_SSE_MAX_SECONDS = env.float("SSE_MAX_SECONDS", default=600.0)

# --- Django-Q2: ORM broker on the default database unless REDIS_URL is set.
REDIS_URL = env("Q_REDIS_URL", default="")
Q_CLUSTER = {
    "name": env("Q_CLUSTER_NAME", default="evergreen"),
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": env.int("Q_TIMEOUT", default=EVERGREEN_LEASE_SECONDS),
    "retry": env.int("Q_RETRY", default=EVERGREEN_LEASE_SECONDS + 5),
    "max_attempts": 3,
    "catch_up": False,
    "poll": 0.5,
    "label": "Django Q2",
}
if Q_CLUSTER["retry"] <= Q_CLUSTER["timeout"]:
    raise ImproperlyConfigured(
        f"Q_RETRY ({Q_CLUSTER['retry']} s) must be longer than Q_TIMEOUT "
        f"({Q_CLUSTER['timeout']} s), or a running task is delivered a second time."
    )
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
Q_SYNC = env.bool("Q_SYNC", default=False)
if Q_SYNC:
    Q_CLUSTER["sync"] = True

# Per-company daily budget; a company's own fields override these.
EVERGREEN_DAILY_COST_BUDGET = Decimal(env("DAILY_COST_BUDGET_USD", default="5.00"))
EVERGREEN_DAILY_TOKEN_BUDGET = env.int("DAILY_TOKEN_BUDGET", default=2_000_000)

# USD per one million tokens, (input, output). Unknown models cost 0.
EVERGREEN_MODEL_PRICES = {
    "gpt-4o-mini": (Decimal("0.15"), Decimal("0.60")),
    "gpt-4o": (Decimal("2.50"), Decimal("10.00")),
    "gpt-4.1-mini": (Decimal("0.40"), Decimal("1.60")),
    "gpt-4.1": (Decimal("2.00"), Decimal("8.00")),
    "gpt-5-mini": (Decimal("0.25"), Decimal("2.00")),
    "offline": (Decimal("0"), Decimal("0")),
}

# Content lifetimes (docs/recommendations.md).
EVERGREEN_EXPIRY = {
    "recommendation": timedelta(days=env.int("RECOMMENDATION_TTL_DAYS", default=14)),
    "insight": timedelta(days=env.int("INSIGHT_TTL_DAYS", default=30)),
    "health_summary": timedelta(days=env.int("HEALTH_TTL_DAYS", default=7)),
}
EVERGREEN_RETENTION_DAYS = env.int("RETENTION_DAYS", default=90)
# Chunks of a finished stream are kept this long (a late client still replays them).
EVERGREEN_CHUNK_GRACE = timedelta(minutes=env.int("CHUNK_GRACE_MINUTES", default=60))
# The maintenance jobs (stale marking, retention) change this many rows per statement.
MAINTENANCE_BATCH_SIZE = env.int("MAINTENANCE_BATCH_SIZE", default=1000)

# This host's name in every log line, so the logs of several hosts can be merged.
EVERGREEN_HOST = env("EVERGREEN_HOST", default=socket.gethostname())
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "format": "%(asctime)s "
            + EVERGREEN_HOST.replace("%", "%%")
            + " %(levelname)s %(name)s %(message)s"
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "httpx": {"level": "WARNING"},
        "django_q": {"level": "WARNING"},
    },
}

# Deliverables (docs/deliverables.md): transform at most this many per request, each under
# this many seconds; the rest are queued.
AI_TRANSFORM_MAX_BATCH = env.int("AI_TRANSFORM_MAX_BATCH", default=5)
AI_TRANSFORM_TIMEOUT = env.float("AI_TRANSFORM_TIMEOUT", default=10.0)
# Transform threads a process runs at once, each needing a pooled connection now and
# then: half the pool, so they can never take every connection the requests need
# (past it, transforms are queued for the cluster). docs/operations.md.
AI_TRANSFORM_THREADS = env.int(
    "AI_TRANSFORM_THREADS", default=max(1, env.int("DB_POOL_MAX_SIZE", default=4) // 2)
)

# Recommendations (docs/recommendations.md): how many to show.
RECOMMENDATIONS_DEFAULT_LIMIT = env.int("RECOMMENDATIONS_DEFAULT_LIMIT", default=3)

# Reviews (docs/reviews.md). Out of range, the app refuses to start.
REVIEWS_MAX_RETRIES_PER_PERSONA = env.int("REVIEWS_MAX_RETRIES_PER_PERSONA", default=3)  # 1-10
REVIEWS_RETRY_INITIAL_BACKOFF_SECONDS = env.float(
    "REVIEWS_RETRY_INITIAL_BACKOFF_SECONDS", default=1.0
)  # 0.1-60
REVIEWS_RETRY_BACKOFF_MULTIPLIER = env.float(
    "REVIEWS_RETRY_BACKOFF_MULTIPLIER", default=2.0
)  # 1-10
REVIEWS_MAX_CONCURRENCY = env.int("REVIEWS_MAX_CONCURRENCY", default=5)
REVIEWS_LEASE_SECONDS = env.int("REVIEWS_LEASE_SECONDS", default=120)
REVIEWS_MAX_WAIT_SECONDS = env.float("REVIEWS_MAX_WAIT_SECONDS", default=30.0)
REVIEWS_MAX_RECOVERIES = env.int("REVIEWS_MAX_RECOVERIES", default=3)
# A run's "status" enum gets its own name in the OpenAPI schema.
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]["ReviewRunStatusEnum"] = (
    "reviews.lifecycle.RunStatus.choices"
)
