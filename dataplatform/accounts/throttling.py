"""Failed-login accounting shared by every login endpoint (OpenPAI, Linkis, the admin and the console).

Failures are counted per client address and per username in the cache (Redis in production, so the count
holds across processes) inside a window of ``LOGIN_FAILURE_WINDOW`` seconds; once either count reaches
``LOGIN_MAX_FAILURES`` further attempts are refused, right password or not, until the window ends. Only failures
count, so a user who types the password right is never locked out by their own successful logins.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

from dataplatform.api.exceptions import ThrottledError


def _keys(client_ip: str, username: str) -> list[str]:
    return [f"login-failures:ip:{client_ip}", f"login-failures:user:{username.lower()}"]


def login_throttle_check(*, client_ip: str, username: str) -> None:
    """Raise ThrottledError when this address or this username has failed too often recently."""
    now = time.time()
    for key in _keys(client_ip, username):
        count = cache.get(key)
        if count is not None and count >= settings.LOGIN_MAX_FAILURES:
            reset_at = cache.get(f"{key}:reset") or now + settings.LOGIN_FAILURE_WINDOW
            wait = max(int(reset_at - now) + 1, 1)
            raise ThrottledError(
                f"Too many failed login attempts; retry in {wait} seconds.", wait=wait, code="login_throttled"
            )


def login_failure_record(*, client_ip: str, username: str) -> None:
    """Count one failed attempt against the address and the username."""
    window = settings.LOGIN_FAILURE_WINDOW
    for key in _keys(client_ip, username):
        if cache.add(key, 0, timeout=window):
            cache.set(f"{key}:reset", time.time() + window, timeout=window)
        try:
            cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.set(key, 1, timeout=window)


def login_failures_clear(*, client_ip: str, username: str) -> None:
    """Forget the username's failures after a successful login (the address keeps its count)."""
    key = _keys(client_ip, username)[1]
    cache.delete_many([key, f"{key}:reset"])
