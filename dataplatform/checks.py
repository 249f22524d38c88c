"""System checks that refuse an unsafe production configuration.

They run with every management command (``migrate`` in ``make run`` included) and fail it with an error ID, so
the production profile cannot start on the embedded parts (SQLite, the in-memory channel layer, a local-memory
cache) or with development settings.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error

MIN_SECRET_KEY_LENGTH = 50


def check_production_settings(app_configs=None, **kwargs) -> list[Error]:
    if settings.PLATFORM_PROFILE != "production":
        return []
    errors: list[Error] = []
    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine:
        errors.append(
            Error(
                f"The production profile needs PostgreSQL; DATABASES uses {engine}.",
                hint="Set DATABASE_URL=postgres://user:password@host:5432/name.",
                id="platform.E001",
            )
        )
    layer = settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", "")
    if "redis" not in layer.lower():
        errors.append(
            Error(
                f"The production profile needs the Redis channel layer; CHANNEL_LAYERS uses {layer or 'nothing'}.",
                hint="Set REDIS_URL=redis://host:6379/0.",
                id="platform.E002",
            )
        )
    if settings.DEBUG:
        errors.append(Error("DEBUG is on in the production profile.", hint="Unset DEBUG.", id="platform.E003"))
    key = settings.SECRET_KEY
    if len(key) < MIN_SECRET_KEY_LENGTH or key.startswith("django-insecure") or len(set(key)) < 5:
        errors.append(
            Error(
                f"SECRET_KEY is too weak for production (at least {MIN_SECRET_KEY_LENGTH} varied characters).",
                hint='Generate one: python -c "import secrets; print(secrets.token_urlsafe(50))"',
                id="platform.E004",
            )
        )
    hosts = settings.ALLOWED_HOSTS
    if not hosts or "*" in hosts:
        errors.append(
            Error(
                "ALLOWED_HOSTS must list the host names the platform is served under (no '*').",
                hint="Set ALLOWED_HOSTS=platform.example.com,10.0.0.5.",
                id="platform.E005",
            )
        )
    cache = settings.CACHES.get("default", {}).get("BACKEND", "")
    if "locmem" in cache or "dummy" in cache:
        errors.append(
            Error(
                f"The production profile needs a shared cache (login throttling, sessions); CACHES uses {cache}.",
                hint="Set REDIS_URL; the cache then uses Redis.",
                id="platform.E006",
            )
        )
    return errors
