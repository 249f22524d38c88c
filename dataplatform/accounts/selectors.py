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


def personal_api_tokens(user):
    """The active API tokens whose ``legal_users`` name only ``user`` (made for them alone)."""
    from dataplatform.accounts.models import ApiToken

    candidates = ApiToken.objects.filter(is_active=True, legal_users__contains=user.username)
    ids = [token.pk for token in candidates if token.legal_user_names == {user.username}]
    return ApiToken.objects.filter(pk__in=ids)
