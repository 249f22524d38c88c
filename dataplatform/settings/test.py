"""Test settings: the embedded default (or PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set), made fast."""

import os
import tempfile
from pathlib import Path

# Every test run gets its own data directory (database file, secret key, job files), never ./var.
# Job engine children started by a test inherit TEST_DATA_DIR and so share its data directory.
os.environ["DATA_DIR"] = os.environ.get("TEST_DATA_DIR") or tempfile.mkdtemp(prefix="dataplatform-test-")
os.environ["TEST_DATA_DIR"] = os.environ["DATA_DIR"]

from dataplatform.settings.base import *  # noqa: E402

PLATFORM_PROFILE = "test"
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)

if not DATABASE_URL:
    DATABASES["default"]["TEST"] = {"NAME": str(Path(DATA_DIR) / "test.sqlite3")}

ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEBUG = False

if REDIS_URL:
    # Parallel runs on one Redis must not see each other's cache keys or channel groups.
    _run = os.path.basename(DATA_DIR)
    CACHES["default"]["KEY_PREFIX"] = f"test-{_run}"
    CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"test-{_run}"

# Tests start the job runner themselves (fixture ``runner``); kills need no long grace period.
JOB_RUNNER_AUTOSTART = False
SYSTEM_ARTIFACTS_LOAD_AT_START = False
FEATURESTORE_TTL_AUTOSTART = False
JOB_KILL_GRACE_SECONDS = 1
JOB_MAX_RUNNING = 4
JOB_MAX_RUNNING_PER_USER = 4
