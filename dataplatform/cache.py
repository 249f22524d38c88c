"""A Redis cache that keeps the platform answering while Redis is away.

The cache holds login-failure counters and cached sessions (``cached_db`` sessions fall back to the database).
Django's Redis backend raises on a connection error, which would turn every request into a 500 during a Redis
restart. Here an unreachable Redis reads as a miss and writes are skipped (logged once per outage), so logins,
sessions and polling go on; the counters start again from zero when Redis returns, as they do after any
Redis restart (it keeps nothing on disk).
"""

from __future__ import annotations

import functools
import logging
import threading

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

_OUTAGE = (RedisConnectionError, RedisTimeoutError, OSError)
_state = threading.local()


def _tolerant(default):
    def wrap(method):
        @functools.wraps(method)
        def call(self, *args, **kwargs):
            try:
                answer = method(self, *args, **kwargs)
            except _OUTAGE as exc:
                if not getattr(_state, "warned", False):
                    logger.warning("the Redis cache is unreachable (%r); answering without it", exc)
                    _state.warned = True
                return default(*args, **kwargs) if callable(default) else default
            _state.warned = False
            return answer

        return call

    return wrap


def _given_default(key, default=None, *args, **kwargs):
    return default


def _incr_unavailable(key, delta=1, *args, **kwargs):
    return delta  # as if the counter had just been created


class TolerantRedisCache(RedisCache):
    get = _tolerant(_given_default)(RedisCache.get)
    get_many = _tolerant({})(RedisCache.get_many)
    has_key = _tolerant(False)(RedisCache.has_key)
    set = _tolerant(None)(RedisCache.set)
    add = _tolerant(True)(RedisCache.add)
    touch = _tolerant(False)(RedisCache.touch)
    set_many = _tolerant([])(RedisCache.set_many)
    delete = _tolerant(False)(RedisCache.delete)
    delete_many = _tolerant(None)(RedisCache.delete_many)
    incr = _tolerant(_incr_unavailable)(RedisCache.incr)
    clear = _tolerant(None)(RedisCache.clear)
