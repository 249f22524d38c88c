"""Write paths for users, logins, JWTs, Linkis tickets and API tokens.

Authorization is decided here, not only in views: every family that creates, changes or removes users goes
through ``user_update``/``user_remove`` with the acting user, so a rule cannot be skipped by calling a different
route.
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime, timedelta
from importlib import import_module

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from rest_framework_simplejwt.tokens import AccessToken

from dataplatform.accounts.models import ApiToken, User, hash_token_code
from dataplatform.accounts.selectors import personal_api_tokens, user_get
from dataplatform.accounts.throttling import (
    LoginClient,
    login_failure_record,
    login_success_record,
    login_throttle_check,
)
from dataplatform.api.authentication import EPOCH_CLAIM, forget_user
from dataplatform.api.exceptions import AuthenticationError, ConflictError, ForbiddenError, NotFoundError

NON_ADMIN = "Non-admin is not allowed to do this operation."


def _set_admin(user: User, is_admin: bool) -> None:
    # The admin flag also opens the Django admin: an admin is staff and superuser.
    user.is_superuser = is_admin
    user.is_staff = is_admin


@transaction.atomic
def user_create(*, username: str, password: str, is_admin: bool = False) -> User:
    """Create an active user with a hashed password."""
    user = User(username=username)
    _set_admin(user, is_admin)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # a concurrent create won the race for the name
        raise ConflictError(f"User name {username} already exists.", code="user_exists") from None
    return user


def service_account_get_or_create(*, username: str) -> User:
    """The user a service acts as (e.g. anonymous OpenMLDB clients' offline jobs): no password, not an admin."""
    user = User.objects.filter(username=username).first()
    if user is not None:
        return user
    user = User(username=username)
    user.set_unusable_password()
    user.full_clean(exclude=["password"])
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # created concurrently
        return User.objects.get(username=username)
    return user


def _admins_left_after_demoting(user: User) -> int:
    return User.objects.filter(is_superuser=True, is_active=True).exclude(pk=user.pk).count()


@transaction.atomic
def user_update(
    *, actor: User, username: str, password: str, admin: bool | None, modify: bool | None, self_service: bool
) -> User:
    """Create (``modify`` false) or change the password and admin flag of (``modify`` true) a user.

    Admins may do either for anyone. With ``self_service`` (OpenPAI /api/v1), a user may also change their own
    password as long as they do not ask for the admin flag.
    """
    allowed = actor.is_admin or (self_service and username == actor.username and modify and not admin)
    if not allowed:
        raise ForbiddenError(NON_ADMIN, code="non_admin")
    if modify is None:  # as upstream: an undefined ``modify`` matches neither "exists" nor "does not exist"
        raise ConflictError("modify must say whether the user already exists.", code="modify_missing")
    user = User.objects.select_for_update().filter(username=username).first()
    if not modify:
        if user is not None:
            raise ConflictError(f"User name {username} already exists.", code="user_exists")
        return user_create(username=username, password=password, is_admin=bool(admin))
    if user is None:
        raise NotFoundError(f"User {username} not found.", code="no_user")
    if admin is False and user.is_admin and _admins_left_after_demoting(user) == 0:
        raise ForbiddenError(f"User {username} is the last admin and must keep the admin flag.", code="last_admin")
    user.set_password(password)
    if admin is not None:
        _set_admin(user, admin)
    user.save()
    return user


@transaction.atomic
def user_remove(*, actor: User, username: str) -> None:
    """Delete a non-admin user; only admins may."""
    if not actor.is_admin:
        raise ForbiddenError(NON_ADMIN, code="non_admin")
    user = user_get(username=username)
    if user is None:
        raise NotFoundError(f"User {username} not found.", code="no_user")
    if user.is_admin:
        raise ForbiddenError(f"Admin {username} is not allowed to remove.", code="remove_admin")
    user.delete()


@transaction.atomic
def user_set_virtual_clusters(*, actor: User, username: str, virtual_clusters: str) -> User:
    """Set the OpenPAI virtual clusters a user may submit to (comma-separated names); only admins may."""
    if not actor.is_admin:
        raise ForbiddenError(NON_ADMIN, code="non_admin")
    names = [name.strip() for name in virtual_clusters.split(",") if name.strip()]
    for name in names:
        if name not in settings.OPENPAI_VIRTUAL_CLUSTERS:
            raise NotFoundError(f"Virtual cluster {name} is not found.", code="no_virtual_cluster")
    user = User.objects.select_for_update().filter(username=username).first()
    if user is None:
        raise NotFoundError(f"User {username} not found.", code="no_user")
    user.virtual_clusters = ",".join(names)
    user.save(update_fields=["virtual_clusters"])
    return user


def user_authenticate(*, username: str, password: str, client: LoginClient) -> User:
    """Check a username and password, with the failed-login throttle every login route shares
    (``dataplatform.accounts.throttling``)."""
    login_throttle_check(client=client, username=username)
    user = user_get(username=username)
    if user is None or not user.is_active:
        login_failure_record(client=client, username=username)
        raise AuthenticationError(f"User {username} is not found.", code="no_user")
    if not user.check_password(password):
        login_failure_record(client=client, username=username)
        raise AuthenticationError("Password is incorrect.", code="incorrect_password")
    login_success_record(client=client, username=username)
    return user


def token_issue(*, user: User, expiration: int) -> str:
    """Return a signed JWT for the user that expires after ``expiration`` seconds (capped by settings)."""
    lifetime = max(1, min(int(expiration), settings.JWT_MAX_EXPIRATION))
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(seconds=lifetime))
    # OpenPAI's claims, for clients that read them; authorization always uses the database, not these.
    token["username"] = user.username
    token["admin"] = user.is_admin
    token[EPOCH_CLAIM] = user.credentials_epoch  # revoked with the user's credentials (credentials_revoke)
    return str(token)


@transaction.atomic
def credentials_revoke(*, user: User, actor=None) -> int:
    """End everything that lets ``user`` in without the password: JWTs issued so far, console and Linkis ticket
    sessions, and the API tokens made for this user alone (``legal_users`` naming only them). Shared tokens
    (``*`` or several users) are left to staff. Returns how many API tokens were deactivated."""
    User.objects.filter(pk=user.pk).update(credentials_epoch=F("credentials_epoch") + 1)
    user.refresh_from_db(fields=["credentials_epoch"])
    forget_user(user.pk)  # the request path's cached row of the user (other processes: within a second)
    return personal_api_tokens(user).update(is_active=False)


# --- Linkis tickets -------------------------------------------------------------------------------------------
def _ticket_store(ticket: str | None = None):
    return import_module(settings.SESSION_ENGINE).SessionStore(session_key=ticket)


def linkis_ticket_create(*, user: User) -> str:
    """Open a Linkis login session and return its ticket (the value of the ticket cookie)."""
    store = _ticket_store()
    store["linkis_user_id"] = user.pk
    store["linkis_auth_hash"] = user.get_session_auth_hash()
    store["linkis_touched"] = int(time.time())
    store.set_expiry(settings.LINKIS_SESSION_TIMEOUT)
    store.create()
    return store.session_key


def linkis_ticket_resolve(*, ticket: str) -> User | None:
    """Return the user of a live ticket and extend its idle timeout, or None for an unknown or expired ticket.

    A password change or deactivation ends every ticket of the user (the stored hash no longer matches).
    """
    store = _ticket_store(ticket)
    user_id = store.get("linkis_user_id")
    if user_id is None:
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not constant_time_compare(store.get("linkis_auth_hash", ""), user.get_session_auth_hash()):
        return None
    now = int(time.time())
    if now - store.get("linkis_touched", 0) > 60:  # slide the idle timeout, at most one write a minute
        store["linkis_touched"] = now
        store.set_expiry(settings.LINKIS_SESSION_TIMEOUT)
        store.save()
    return user


def linkis_ticket_delete(*, ticket: str) -> None:
    """End a Linkis login session."""
    _ticket_store(ticket).delete()


# --- API tokens (Linkis Token-Code / Token-User) --------------------------------------------------------------
@transaction.atomic
def api_token_create(
    *,
    name: str,
    created_by: User | None,
    code: str = "",
    legal_users: str = "*",
    legal_hosts: str = "*",
    is_admin_token: bool = False,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create a token and return it with its code; the code is shown once and only its hash is kept."""
    code = code or secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        key_hash=hash_token_code(code),
        key_prefix=code[:8],
        legal_users=legal_users,
        legal_hosts=legal_hosts,
        is_admin_token=is_admin_token,
        expires_at=expires_at,
        created_by=created_by,
    )
    token.full_clean(exclude=["key_hash"])
    if ApiToken.objects.filter(key_hash=token.key_hash).exists():
        raise ConflictError("A token with this code already exists.", code="token_exists")
    token.save()
    return token, code


def api_token_authenticate(*, code: str, username: str, host: str) -> tuple[User, ApiToken]:
    """Return the user a Token-Code/Token-User pair acts as, or raise AuthenticationError saying why not."""
    token = ApiToken.objects.filter(key_hash=hash_token_code(code)).first()
    if token is None:
        raise AuthenticationError("the token is not registered", code="token_unknown")
    if not token.is_active:
        raise AuthenticationError("the token is disabled", code="token_disabled")
    now = timezone.now()
    if token.expires_at is not None and token.expires_at <= now:
        raise AuthenticationError("the token has expired", code="token_expired")
    if not token.allows_user(username):
        raise AuthenticationError(f"user {username} is not a legal user of this token", code="token_user")
    if not token.allows_host(host):
        raise AuthenticationError(f"host {host} is not a legal host of this token", code="token_host")
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise AuthenticationError(f"user {username} does not exist or is inactive", code="no_user")
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return user, token
