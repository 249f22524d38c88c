"""What the services of artifacts share: who the actor is, and the size of names."""

from __future__ import annotations

MAX_NAME_LENGTH = 255  # artifact and application names (the columns' size)


def actor_name(actor) -> str:
    """The name a change is recorded under: a user's username, or the string a system caller passes."""
    return getattr(actor, "username", "") or (actor if isinstance(actor, str) else "")


def is_admin(actor) -> bool:
    return bool(getattr(actor, "is_admin", False))
