"""Read paths for users and tokens."""

from __future__ import annotations

from django.db.models import QuerySet

from dataplatform.accounts.models import User


def user_get(*, username: str) -> User | None:
    """Return the user with exactly this username, or None."""
    return User.objects.filter(username=username).first()


def user_exists(*, username: str) -> bool:
    """Return whether a user has exactly this username."""
    return User.objects.filter(username=username).exists()


def user_list() -> QuerySet[User]:
    """Return all users, oldest first."""
    return User.objects.order_by("date_joined", "id")
