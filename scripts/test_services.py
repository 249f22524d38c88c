"""Run the test suite again on PostgreSQL and Redis, when they are reachable.

TEST_DATABASE_URL and TEST_REDIS_URL name the services (defaults: the local PostgreSQL and Redis). When either is
unreachable the pass is skipped with the reason, unless PLATFORM_REQUIRE_SERVICES=1 (CI), which makes it fail.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dataplatform")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def reachable(url: str, default_port: int) -> str | None:
    """Return None when a TCP connection to the URL's host and port succeeds, else the reason."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    try:
        with socket.create_connection((host, port), timeout=3):
            return None
    except OSError as exc:
        return f"{host}:{port} is unreachable ({exc})"


def main() -> int:
    required = os.environ.get("PLATFORM_REQUIRE_SERVICES", "") in ("1", "true", "yes")
    problems = [p for p in (reachable(DATABASE_URL, 5432), reachable(REDIS_URL, 6379)) if p]
    if problems:
        message = "PostgreSQL/Redis pass: " + "; ".join(problems)
        if required:
            print(f"FAILED {message} (PLATFORM_REQUIRE_SERVICES=1)", file=sys.stderr)
            return 1
        print(f"SKIPPED {message}")
        return 0
    env = dict(os.environ, DATABASE_URL=DATABASE_URL, REDIS_URL=REDIS_URL)
    print(f"Running the suite on PostgreSQL ({DATABASE_URL}) and Redis ({REDIS_URL})", flush=True)
    command = [str(ROOT / ".venv" / "bin" / "pytest"), "--create-db", *sys.argv[1:]]
    return subprocess.call(command, cwd=ROOT, env=env)  # noqa: S603 - fixed executable, our own arguments


if __name__ == "__main__":
    sys.exit(main())
