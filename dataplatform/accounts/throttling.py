"""Failed-login accounting shared by every login route (console, admin, ``/api/auth``, ``/api/v1/token``, Linkis).

The rule, after OWASP's "device cookies" and what trusted systems do, so that guessing is slowed without letting
an attacker lock anybody else out:

- **Per username and client.** Failures are counted per (username, address), or, when the attempt carries a valid
  device cookie for that username (``LOGIN_DEVICE_COOKIE``, issued by every successful login), per (username,
  device). From ``LOGIN_MAX_FAILURES`` failures on, that pair must wait before its next attempt, the wait doubling
  with each further failure (``LOGIN_BACKOFF_FIRST_SECONDS``, 1 s by default, then 2 s, 4 s ... up to
  ``LOGIN_BACKOFF_MAX_SECONDS``), right password or not.
- **Per address.** An address with ``LOGIN_MAX_FAILURES_PER_ADDRESS`` failures over all usernames (a spray) is slowed
  the same way, but only for usernames that are not *known* there: a username known at an address (it logged in
  successfully from there recently) or presenting its device cookie is never slowed by that address's other
  failures.
- **Per username over all addresses.** ``LOGIN_MAX_FAILURES_PER_USER`` failures for one username (a distributed
  guess) slow that username's attempts from addresses where it is not known and without its device cookie; its
  known addresses and devices go on as before.

So a successful login from a known address or device is never blocked by another address's failures, and an
attacker who fails keeps only their own address (or the unknown ones) waiting. Counts are forgotten
``LOGIN_FAILURE_WINDOW`` seconds after the last failure (never while a wait is running); a successful login clears
its own pair's count. The counts live in the cache (Redis in production, shared by every process).
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.utils.crypto import get_random_string

from dataplatform.api.exceptions import ThrottledError

DEVICE_SALT = "dataplatform.login-device"
#: The clock waits are measured with (tests hold it still: a slow machine must not let a wait run out).
clock = time.time
# How long a successful login makes its address "known" for its username, and a device cookie valid.
KNOWN_SECONDS = 30 * 86400


@dataclass(frozen=True)
class LoginClient:
    """Who attempts a login: the client's address and the device cookie it sent (may be empty)."""

    address: str
    device: str = ""


def device_token_issue(username: str) -> str:
    """A signed device token for ``username`` (the value of the device cookie after a successful login)."""
    return signing.dumps({"u": username.lower(), "n": get_random_string(16)}, salt=DEVICE_SALT)


def _device_nonce(client: LoginClient, username: str) -> str | None:
    """The device's id when the client's device cookie was issued to ``username`` (and is still valid)."""
    if not client.device:
        return None
    try:
        data = signing.loads(client.device, salt=DEVICE_SALT, max_age=KNOWN_SECONDS)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("u") != username.lower() or not isinstance(data.get("n"), str):
        return None
    return data["n"]


def _key(*parts: str) -> str:
    """A short, safe cache key: names and addresses are hashed in."""
    return "login:" + hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:40]


def _keys(client: LoginClient, username: str) -> tuple[str, bool, list[tuple[str, int]]]:
    """(this attempt's own counter, whether the client is known for the name, [(counter, threshold)] to check)."""
    name = username.lower()
    nonce = _device_nonce(client, name)
    if nonce is not None:
        own = _key("device", name, nonce)
        return own, True, [(own, settings.LOGIN_MAX_FAILURES)]
    own = _key("pair", name, client.address)
    known = cache.get(_key("known", name, client.address)) is not None
    checks = [(own, settings.LOGIN_MAX_FAILURES)]
    if not known:
        checks += [
            (_key("address", client.address), settings.LOGIN_MAX_FAILURES_PER_ADDRESS),
            (_key("user", name), settings.LOGIN_MAX_FAILURES_PER_USER),
        ]
    return own, known, checks


def login_throttle_check(*, client: LoginClient, username: str) -> None:
    """Raise ThrottledError while this attempt must wait (see the module's rule)."""
    now = clock()
    _, _, checks = _keys(client, username)
    waits = cache.get_many([f"{key}:until" for key, _ in checks])
    until = max(waits.values(), default=0.0)
    if until > now:
        wait = max(math.ceil(until - now), 1)
        raise ThrottledError(
            f"Too many failed login attempts; retry in {wait} seconds.", wait=wait, code="login_throttled"
        )


def _count(key: str, threshold: int, now: float) -> None:
    window = settings.LOGIN_FAILURE_WINDOW
    if cache.add(key, 1, timeout=window):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.set(key, 1, timeout=window)
            count = 1
    wait = 0
    if count >= threshold:
        first = settings.LOGIN_BACKOFF_FIRST_SECONDS
        wait = min(settings.LOGIN_BACKOFF_MAX_SECONDS, first * 2 ** min(count - threshold, 30))
        cache.set(f"{key}:until", now + wait, timeout=wait)
    cache.touch(key, timeout=window + wait)  # never forgotten while its wait runs


def login_failure_record(*, client: LoginClient, username: str) -> None:
    """Count one failed attempt: against its own pair, and, from an unknown client, its address and username."""
    now = clock()
    _, _, checks = _keys(client, username)
    for key, threshold in checks:
        _count(key, threshold, now)


def login_success_record(*, client: LoginClient, username: str) -> None:
    """Forget this pair's failures and remember the address as known for the username."""
    own, _, _ = _keys(client, username)
    cache.delete_many([own, f"{own}:until"])
    cache.set(_key("known", username.lower(), client.address), 1, timeout=KNOWN_SECONDS)
