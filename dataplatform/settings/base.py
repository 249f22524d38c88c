"""Settings shared by every profile; with nothing configured this is the embedded default.

Embedded default: SQLite (WAL) under ``DATA_DIR``, the in-memory channel layer, a local-memory cache and the
in-process job runner. ``DATABASE_URL`` and ``REDIS_URL`` switch the database, the channel layer and the cache
to PostgreSQL and Redis; ``dataplatform.settings.production`` adds the requirements of the production profile.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from dataplatform.env import env_bool, env_float, env_int, env_list, env_path, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent

PLATFORM_PROFILE = "embedded"
PLATFORM_VERSION = "0.1.0"

DATA_DIR = env_path("DATA_DIR", BASE_DIR / "var")

DEBUG = env_bool("DEBUG", False)


def _local_secret_key(data_dir: Path) -> str:
    """Return the secret key kept under DATA_DIR, creating it on first use.

    The embedded default needs no configuration, yet sessions, CSRF tokens and JWTs must survive a restart, so
    the key is generated once and stored beside the data it protects (mode 0600).
    """
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            # O_EXCL: never overwrite a concurrent writer's key; 0600 from the first byte.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with open(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_urlsafe(50))
        except FileExistsError:
            pass
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 32:
        raise ImproperlyConfigured(f"{path} holds a secret key shorter than 32 characters; delete it to regenerate.")
    return key


SECRET_KEY = env_str("SECRET_KEY") or _local_secret_key(DATA_DIR)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "dataplatform.apps.PlatformConfig",
    "dataplatform.accounts",
    "console",
    "jobs",
    "artifacts",
    "featurestore",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "dataplatform.api.middleware.RestServerPrefixMiddleware",
    "dataplatform.api.middleware.OpenMLDBPathMiddleware",
    "dataplatform.api.middleware.RequestBodyLimitMiddleware",
    "dataplatform.api.middleware.LazySessionMiddleware",  # Django's, its store made when first used
    "django.middleware.common.CommonMiddleware",
    "dataplatform.api.middleware.CrossSiteGuardMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "dataplatform.api.middleware.LazyMessageMiddleware",  # Django's, its storage made when first used
    "dataplatform.accounts.login.LoginDeviceCookieMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "dataplatform.urls"
WSGI_APPLICATION = "dataplatform.wsgi.application"
ASGI_APPLICATION = "dataplatform.asgi.application"

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
                "console.context_processors.console_nav",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    # A process with many short-lived threads (the ASGI server: Channels' consumers, the runner's job threads) would
    # pile up connections kept per thread (CONN_MAX_AGE), so Django's psycopg pool lends one per request there;
    # long-lived threads (the job runner, the feature store's fast path) keep the one they took. A process whose
    # threads are few and live as long as it does (gunicorn's sync workers: dataplatform/wsgi.py sets
    # DATABASE_CONN_MAX_AGE) keeps its connection across requests, as Django does under WSGI, without the pool's
    # borrowing and returning at every request.
    conn_max_age = env_int("DATABASE_CONN_MAX_AGE", 0, minimum=0)
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=conn_max_age)}
    if not conn_max_age:
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env_int("DB_POOL_MIN_SIZE", 2, minimum=0),
            "max_size": env_int("DB_POOL_MAX_SIZE", 40, minimum=1),
            "timeout": env_int("DB_POOL_TIMEOUT", 10, minimum=1),
        }
else:
    # Concurrent writers (requests, the runner's threads, log appends) need WAL, a busy timeout of seconds and
    # IMMEDIATE transactions, so that writers queue for the lock instead of failing on a lock upgrade.
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "platform.sqlite3",
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA busy_timeout=20000",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            # The ASGI server's request threads are pooled (dataplatform/asgi_handler.py): each keeps its connection
            # across requests, as a WSGI worker does, instead of opening one (and running its PRAGMAs) per request.
            "CONN_MAX_AGE": env_int("SQLITE_CONN_MAX_AGE", 600, minimum=0),
        }
    }

# A job engine child that runs platform code (the feature store's SQL) uses exactly its parent's database.
if env_str("PLATFORM_DATABASE_NAME"):
    DATABASES["default"]["NAME"] = env_str("PLATFORM_DATABASE_NAME")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Threads that run HTTP requests' sync part under ASGI (dataplatform/asgi_handler.py), created as needed up to this.
ASGI_REQUEST_THREADS = env_int("ASGI_REQUEST_THREADS", 32, minimum=1)
# ...but first on a lane of this many threads (0: none) when it frees up within ASGI_LANE_WAIT_MS: fewer threads
# contending for the GIL serve more requests (dataplatform/asgi_handler.py).
ASGI_LANE_THREADS = env_int("ASGI_LANE_THREADS", 1, minimum=0)
ASGI_LANE_WAIT_MS = env_int("ASGI_LANE_WAIT_MS", 10, minimum=0)
# A server process's C allocator (glibc; dataplatform/memory.py): at most this many malloc arenas (0: glibc's default,
# eight per core), and how often its free memory is handed back to the system (seconds; 0: never). Without them the
# RSS of a busy server creeps up by the free memory malloc keeps.
MEMORY_MALLOC_ARENAS = env_int("MEMORY_MALLOC_ARENAS", 2, minimum=0)
MEMORY_TRIM_INTERVAL = env_int("MEMORY_TRIM_INTERVAL", 60, minimum=0)

# --- Channel layer and cache ----------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Redis pub/sub: a group send is one PUBLISH, each web process subscribes a group once for all its
            # sockets; the layer re-subscribes after a Redis restart and tells consumers to catch up.
            "BACKEND": "dataplatform.channels.ResilientRedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                "prefix": env_str("CHANNEL_LAYER_PREFIX", "dataplatform"),
                # Messages a socket's queue holds in its web process; past that the oldest is dropped (a socket
                # that stopped reading) and its consumer catches up from the store.
                "capacity": env_int("CHANNEL_LAYER_CAPACITY", 1000, minimum=100),
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "dataplatform.cache.TolerantRedisCache",  # a Redis outage reads as a miss
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "dataplatform"),
            # Fail fast when Redis is away (the cache then answers without it) rather than hold requests.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        }
    }
else:
    # Pushes are notifications (the stores are the truth and clients catch up from their cursor), so a full
    # channel drops messages; a larger capacity just makes that rarer under bursts.
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "dataplatform.channels.FastInMemoryChannelLayer", "CONFIG": {"capacity": 1000}}
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "dataplatform"}}

# --- Celery (the celery job runner) ---------------------------------------------------------------------------
# Redis is the broker: jobs go to the "jobs" queue, kills to every worker over a broadcast queue.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "")
CELERY_TASK_ACKS_LATE = True  # a job's message is acknowledged when its task ends, not when a worker takes it
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # a worker holds no more messages than it has free threads
CELERY_TASK_DEFAULT_QUEUE = "jobs"
CELERY_TASK_IGNORE_RESULT = True  # job outcomes live in the database
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False

# --- Accounts and sessions ------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "/console/login/"
LOGIN_REDIRECT_URL = "/console/"  # the console's login goes to the workbench unless ?next= says otherwise
LOGOUT_REDIRECT_URL = "/console/login/"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 6}},
]
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "dataplatform.api.views.csrf_failure"

# Failed logins allowed per client address and per username inside the window, on every login endpoint.
# Failed logins (dataplatform/accounts/throttling.py): per username and address (or device cookie), per address,
# per username; past each threshold the next attempt waits LOGIN_BACKOFF_FIRST_SECONDS (1 s), doubling up to
# LOGIN_BACKOFF_MAX_SECONDS.
LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 10, minimum=1)
LOGIN_MAX_FAILURES_PER_ADDRESS = env_int("LOGIN_MAX_FAILURES_PER_ADDRESS", 50, minimum=1)
LOGIN_MAX_FAILURES_PER_USER = env_int("LOGIN_MAX_FAILURES_PER_USER", 50, minimum=1)
LOGIN_FAILURE_WINDOW = env_int("LOGIN_FAILURE_WINDOW", 300, minimum=1)
LOGIN_BACKOFF_FIRST_SECONDS = env_int("LOGIN_BACKOFF_FIRST_SECONDS", 1, minimum=1)
LOGIN_BACKOFF_MAX_SECONDS = env_int("LOGIN_BACKOFF_MAX_SECONDS", 900, minimum=1)
LOGIN_DEVICE_COOKIE = "platform_login_device"
# Proxies in front of the platform that append to X-Forwarded-For (0: use the socket's peer address).
NUM_PROXIES = env_int("NUM_PROXIES", 0, minimum=0)

# JWTs from POST /api/auth and /api/v1/token: the client asks for an expiration (OpenPAI: 60..604800 s, default
# one day) and the platform caps it here.
JWT_DEFAULT_EXPIRATION = 86400
JWT_MAX_EXPIRATION = env_int("JWT_MAX_EXPIRATION", 604800, minimum=60)
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=JWT_DEFAULT_EXPIRATION),
    "ALGORITHM": "HS256",
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "UPDATE_LAST_LOGIN": False,
    # A password change revokes every token issued before it.
    "CHECK_REVOKE_TOKEN": True,
    "REVOKE_TOKEN_CLAIM": "hash_password",
}

# How long a bearer token's user row is reused across requests of one process (dataplatform/api/authentication.py;
# a save of the user in that process drops it at once). 0: read it for every request.
JWT_USER_CACHE_SECONDS = env_float("JWT_USER_CACHE_SECONDS", 1.0, minimum=0.0)

# Linkis: the ticket cookie set by /api/rest_j/v1/user/login, and its idle timeout (Linkis default: 2 h).
LINKIS_TICKET_COOKIE = "linkis_user_session_ticket_id_v1"
LINKIS_SESSION_TIMEOUT = env_int("LINKIS_SESSION_TIMEOUT", 7200, minimum=60)


def _entrance_address() -> str:
    """Where this server listens, as Linkis names an entrance instance (``host:port``): ``make run`` passes HOST and
    PORT; a wildcard host is named by the machine's hostname."""
    host = env_str("HOST", "127.0.0.1")
    if host in ("", "0.0.0.0", "::", "[::]"):  # noqa: S104 - a comparison, not a bind
        host = socket.gethostname()
    return f"{host}:{env_str('PORT', '8000')}"


LINKIS_ENTRANCE_ADDRESS = env_str("LINKIS_ENTRANCE_ADDRESS", _entrance_address())

# OpenPAI virtual clusters users can be given (PUT /api/v1/user/:username/virtualClusters).
OPENPAI_VIRTUAL_CLUSTERS = env_list("OPENPAI_VIRTUAL_CLUSTERS", ["default"])

# --- Jobs -----------------------------------------------------------------------------------------------------
JOBS_DIR = env_path("JOBS_DIR", DATA_DIR / "jobs")
# "local": jobs run in the server process (embedded default); "celery": on Celery workers (production profile).
JOB_RUNNER = env_str("JOB_RUNNER", "local")
# The celery runner: a worker beats every JOB_HEARTBEAT_SECONDS; one silent for JOB_WORKER_TIMEOUT_SECONDS is
# lost and its jobs end Failed; a queued job nobody took for JOB_REDISPATCH_SECONDS is sent again.
JOB_HEARTBEAT_SECONDS = env_int("JOB_HEARTBEAT_SECONDS", 3, minimum=1)
JOB_WORKER_TIMEOUT_SECONDS = env_int("JOB_WORKER_TIMEOUT_SECONDS", 15, minimum=2)
JOB_REDISPATCH_SECONDS = env_int("JOB_REDISPATCH_SECONDS", 30, minimum=1)
# Start the runner in the server process (asgi.py); tests start their own.
JOB_RUNNER_AUTOSTART = env_bool("JOB_RUNNER_AUTOSTART", True)
# Short jobs spend much of their life starting processes and writing logs, so twice the cores keeps them flowing.
JOB_MAX_RUNNING = env_int("JOB_MAX_RUNNING", 2 * (os.cpu_count() or 1), minimum=1)
JOB_MAX_RUNNING_PER_USER = env_int("JOB_MAX_RUNNING_PER_USER", JOB_MAX_RUNNING, minimum=1)
JOB_QUEUE_CAPACITY = env_int("JOB_QUEUE_CAPACITY", 10000, minimum=1)
JOB_DEFAULT_TIMEOUT = env_int("JOB_DEFAULT_TIMEOUT", 3600, minimum=1)
JOB_MAX_TIMEOUT = env_int("JOB_MAX_TIMEOUT", 7 * 86400, minimum=1)
JOB_KILL_GRACE_SECONDS = env_int("JOB_KILL_GRACE_SECONDS", 5, minimum=0)
JOB_MEMORY_LIMIT_MB = env_int("JOB_MEMORY_LIMIT_MB", 4096, minimum=0)  # 0: unlimited
# CPU seconds a job's processes may use (RLIMIT_CPU); JOB_CPU_LIMIT_SECONDS is the older name. 0: unlimited.
JOB_CPU_LIMIT_SECONDS = env_int("JOB_CPU_SECONDS", env_int("JOB_CPU_LIMIT_SECONDS", 0, minimum=0), minimum=0)
# Processes and threads a job may have at once (RLIMIT_NPROC, counted in the job's own user namespace). 0: unlimited.
JOB_MAX_PROCESSES = env_int("JOB_MAX_PROCESSES", 1024, minimum=0)
# Users' code runs in a bubblewrap sandbox as JOB_OS_USER (jobs/sandbox.py). JOB_SANDBOX=off runs it unsandboxed, as
# the platform itself: only for a platform used by one trusted person. JOB_SANDBOX_NETWORK=off cuts jobs' network.
JOB_SANDBOX = env_bool("JOB_SANDBOX", True)
JOB_OS_USER = env_str("JOB_OS_USER", "platform-job")
JOB_SANDBOX_NETWORK = env_bool("JOB_SANDBOX_NETWORK", True)
# Engines a user may use when neither they nor their groups were granted any (jobs.use_engine_* permissions).
JOB_DEFAULT_ENGINES = env_list("JOB_DEFAULT_ENGINES", ["python", "shell", "sql", "duckdb", "spark"])
JOB_SPARK_DRIVER_MEMORY = env_str("JOB_SPARK_DRIVER_MEMORY", "1g")
# The Spark master jobs of the spark engine run against ("" : local[*] on the machine running the job).
SPARK_MASTER = env_str("SPARK_MASTER", "")
# Every this many seconds a WebSocket connection checks its unfinished jobs against the store (0: never).
WEBSOCKET_RESYNC_SECONDS = env_float("WEBSOCKET_RESYNC_SECONDS", 5.0, minimum=0.0)
JOB_MAX_CODE_BYTES = env_int("JOB_MAX_CODE_BYTES", 1024 * 1024, minimum=1)
JOB_LOG_MAX_LINES = env_int("JOB_LOG_MAX_LINES", 100000, minimum=10)
JOB_LOG_MAX_LINE_CHARS = env_int("JOB_LOG_MAX_LINE_CHARS", 10000, minimum=80)
JOB_RESULT_MAX_ROWS = env_int("JOB_RESULT_MAX_ROWS", 100000, minimum=1)

# --- Linkis workspace (saved scripts: /api/rest_j/v1/filesystem/...) ----------------------------------------------
# Each user's scripts and files live in LINKIS_WORKSPACE_ROOT/<username> (created on first use); no path of the
# filesystem API leaves it. saveScript bodies and upload bodies are refused above these sizes (HTTP 413).
LINKIS_WORKSPACE_ROOT = env_path("LINKIS_WORKSPACE_ROOT", DATA_DIR / "workspace")
LINKIS_WORKSPACE_SCRIPT_MAX_BYTES = env_int("LINKIS_WORKSPACE_SCRIPT_MAX_BYTES", 5 * 1024 * 1024, minimum=1024)
LINKIS_WORKSPACE_UPLOAD_MAX_BYTES = env_int("LINKIS_WORKSPACE_UPLOAD_MAX_BYTES", 100 * 1024 * 1024, minimum=1024)

# --- OpenPAI jobs ----------------------------------------------------------------------------------------------
# $PAI_DEFAULT_FS_URI of job configs: a directory on this host (outputDir defaults to <it>/Output/<user>/<job>).
OPENPAI_DEFAULT_FS = env_path("OPENPAI_DEFAULT_FS", DATA_DIR / "pai")
# Task instances in one job, all roles together (each runs as one job of the job core).
OPENPAI_MAX_TASKS_PER_JOB = env_int("OPENPAI_MAX_TASKS_PER_JOB", 1000, minimum=1)
# retryCount -1 means "retry until stopped" upstream; this bounds it.
OPENPAI_MAX_RETRIES = env_int("OPENPAI_MAX_RETRIES", 100, minimum=0)
# Where OpenPAI tasks run: "local" as job-core jobs of this platform's runner (no resource accounting), or "ray":
# each job a Ray placement group with one bundle per task (gang-scheduled, CPU/GPU/memory accounted), started by the
# gang dispatcher (manage.py openpai_ray; the server starts it when OPENPAI_RAY_DISPATCHER_AUTOSTART is on).
OPENPAI_RUNNER = env_str("OPENPAI_RUNNER", "local")
# The Ray cluster's address (host:port of its head); "local": the dispatcher starts a Ray head on this machine.
RAY_ADDRESS = env_str("RAY_ADDRESS", "local")
# What a local head (RAY_ADDRESS=local) declares: CPUs (default: the machine's cores) and logical GPUs, whose ids Ray
# hands to tasks as CUDA_VISIBLE_DEVICES.
RAY_LOCAL_NUM_CPUS = env_int("RAY_LOCAL_NUM_CPUS", os.cpu_count() or 1, minimum=1)
RAY_LOCAL_NUM_GPUS = env_int("RAY_LOCAL_NUM_GPUS", 0, minimum=0)
OPENPAI_RAY_DISPATCHER_AUTOSTART = env_bool("OPENPAI_RAY_DISPATCHER_AUTOSTART", True)
# Virtual clusters' shares of the Ray cluster: "research=0.25;prod=CPU:8,GPU:2,memoryMB:16384" (unnamed: all).
OPENPAI_VC_SHARES = env_str("OPENPAI_VC_SHARES", "")

# On PostgreSQL, the hot reads (dataplatform/querycache.py, the feature store's request-mode reads) are prepared once
# per connection and bind their values on the server. Off for a pooler that cannot keep prepared statements (PgBouncer
# before 1.21 in transaction mode).
DATABASE_PREPARED_STATEMENTS = env_bool("DATABASE_PREPARED_STATEMENTS", True)

# --- Feature store -----------------------------------------------------------------------------------------------
# OpenMLDB's APIServer has no authentication and its clients send none; the production profile turns this off.
OPENMLDB_ALLOW_ANONYMOUS = env_bool("OPENMLDB_ALLOW_ANONYMOUS", True)
# The user an anonymous client's offasync jobs run as (created on first use, without a password).
OPENMLDB_SERVICE_ACCOUNT = env_str("OPENMLDB_SERVICE_ACCOUNT", "openmldb")
# Serve deployment requests and inserts straight from ASGI (featurestore/openmldb/fastpath.py), not through Django.
FEATURESTORE_FASTPATH = env_bool("FEATURESTORE_FASTPATH", True)
FEATURESTORE_FASTPATH_THREADS = env_int("FEATURESTORE_FASTPATH_THREADS", 4, minimum=1)
# How often the server deletes rows that every index's TTL has expired (seconds; 0: never).
FEATURESTORE_TTL_INTERVAL = env_int("FEATURESTORE_TTL_INTERVAL", 600, minimum=0)
# Start that expiry in the server process (dataplatform.startup); tests start none.
FEATURESTORE_TTL_AUTOSTART = env_bool("FEATURESTORE_TTL_AUTOSTART", True)
# Where LOAD DATA may read and SELECT ... INTO OUTFILE may write clients' files (colon-separated directories), and
# where tables' offline data (Parquet) is kept.
FEATURESTORE_FILE_ROOTS = [p for p in env_str("FEATURESTORE_FILE_ROOTS", str(DATA_DIR / "files")).split(":") if p]
# URI prefixes (comma-separated) under which LOAD DATA and INTO OUTFILE may use remote files: s3://bucket/prefix/,
# hdfs://namenode:8020/path/ (fsspec filesystems; credentials from their own environment). Empty: local files only.
FEATURESTORE_REMOTE_ROOTS = [p.strip() for p in env_str("FEATURESTORE_REMOTE_ROOTS", "").split(",") if p.strip()]
FEATURESTORE_OFFLINE_DIR = env_path("FEATURESTORE_OFFLINE_DIR", DATA_DIR / "offline")
# Rows an offsync SELECT answers inline (POST /dbs/{db}); a bigger result is refused with a pointer to INTO OUTFILE.
FEATURESTORE_OFFLINE_SYNC_ROWS = env_int("FEATURESTORE_OFFLINE_SYNC_ROWS", 10000, minimum=1)
# Where offline queries run: duckdb, spark (pyspark on SPARK_MASTER, or local[*]) or auto (spark when SPARK_MASTER
# is set); a session may choose with SET @@offline_engine. What Spark cannot compile runs on DuckDB.
FEATURESTORE_OFFLINE_ENGINE = env_str("FEATURESTORE_OFFLINE_ENGINE", "auto").lower()
if FEATURESTORE_OFFLINE_ENGINE not in ("duckdb", "spark", "auto"):
    raise ImproperlyConfigured(
        f"FEATURESTORE_OFFLINE_ENGINE must be duckdb, spark or auto, not {FEATURESTORE_OFFLINE_ENGINE}"
    )
# DuckDB's memory limit for offline work (e.g. "4GB"; empty: DuckDB's default, 80% of RAM); it spills beyond it.
FEATURESTORE_DUCKDB_MEMORY = env_str("FEATURESTORE_DUCKDB_MEMORY", "")

# --- Artifacts -------------------------------------------------------------------------------------------------
# Archives are stored once per content hash under ARTIFACTS_DIR/blobs; programs run from ARTIFACTS_DIR/unpacked.
ARTIFACTS_DIR = env_path("ARTIFACTS_DIR", DATA_DIR / "artifacts")
# System artifacts (CDAP's app.artifact.dir): directories of archives, separated by ';', loaded at start, by
# `manage.py load_system_artifacts` and by POST /v3/namespaces/system/artifacts.
SYSTEM_ARTIFACTS_DIRS = [p for p in env_str("SYSTEM_ARTIFACTS_DIR", str(BASE_DIR / "system-artifacts")).split(";") if p]
SYSTEM_ARTIFACTS_LOAD_AT_START = env_bool("SYSTEM_ARTIFACTS_LOAD_AT_START", True)
# Limits of an uploaded archive: its size, its number of entries, and the total of its uncompressed sizes.
ARTIFACT_MAX_BYTES = env_int("ARTIFACT_MAX_BYTES", 1024 * 1024 * 1024, minimum=1024)
ARTIFACT_MAX_ENTRIES = env_int("ARTIFACT_MAX_ENTRIES", 20000, minimum=1)
ARTIFACT_MAX_UNCOMPRESSED_BYTES = env_int("ARTIFACT_MAX_UNCOMPRESSED_BYTES", 4 * 1024 * 1024 * 1024, minimum=1024)

# --- Requests -------------------------------------------------------------------------------------------------
# Largest request body any API accepts unless a view sets its own ``max_body_bytes`` (artifact uploads do).
MAX_REQUEST_BODY_BYTES = env_int("MAX_REQUEST_BODY_BYTES", 10 * 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["dataplatform.api.parsers.StrictJSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "dataplatform.api.authentication.BearerJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "dataplatform.api.negotiation.FirstRendererNegotiation",
    "EXCEPTION_HANDLER": "dataplatform.api.handlers.platform_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "dataplatform.api.schema.PlatformAutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Data platform API",
    "DESCRIPTION": (
        "Four wire contracts over one platform: Linkis entrance (/api/rest_j/v1), OpenPAI (/api/auth, /api/job, "
        "/api/v1), CDAP (/v3/namespaces, /namespaces) and OpenMLDB APIServer (/dbs, /refresh)."
    ),
    "VERSION": PLATFORM_VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": None,
    "COMPONENT_SPLIT_REQUEST": True,
    "DISABLE_ERRORS_AND_WARNINGS": True,
    "TAGS": [
        {"name": name, "description": text}
        for name, text in (
            ("Linkis", "Apache Linkis entrance, job history and filesystem (/api/rest_j/v1)."),
            ("OpenPAI", "OpenPAI REST server (/api/auth, /api/job, /api/v1, /api/v2; also under /rest-server/)."),
            (
                "CDAP",
                "CDAP artifacts, plugins, applications and programs (/v3/namespaces, /namespaces, /token, /ping).",
            ),
            ("OpenMLDB", "OpenMLDB APIServer: databases, tables, rows, SQL, deployments, procedures (/dbs, /refresh)."),
            ("Platform", "The platform itself: health and the API documents."),
        )
    ],
}

# --- Static files ---------------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the app and library folders when collectstatic has not run (tests, a first start).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Security headers -----------------------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "daphne": {"level": "WARNING"},
    },
}
