"""Users and the API tokens that staff issue for Linkis's Token-Code/Token-User authentication.

User names follow one rule everywhere, the strictest of the four upstreams': OpenPAI's, ``Joi.string().token()``
(ASCII letters, digits and underscores; rest-server ``config/auth.js`` v0.1, ``config/token.js`` and
``config/user.js`` v0.7). Linkis, CDAP and OpenMLDB set no rule of their own for names, and OpenPAI's routes refuse
any other name, so a name the admin accepted but OpenPAI refused would be a user who can never get a token there.
The rule is the ``username`` field's validator, so the admin's forms, ``createsuperuser``, ``bootstrap_admin`` and
every API that creates users (through ``services.user_create``) check it in one place.

Users created before the rule keep their names: nothing renames them. A name is checked when it is given (a new
user, a rename), not when a user who already has it is saved, and the login routes of every family, OpenPAI's
token routes included, accept any existing user's name (``dataplatform.accounts.views``).
"""

from __future__ import annotations

import hashlib
import ipaddress

from django.contrib.auth.models import AbstractUser
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.deconstruct import deconstructible

USERNAME_PATTERN = r"^[A-Za-z0-9_]+\Z"
USERNAME_RULE = "Letters (A-Z, a-z), digits and underscores only"


@deconstructible
class UsernameValidator(RegexValidator):
    """OpenPAI's rule for user names (Joi ``string().token()``), which every family and the admin share."""

    regex = USERNAME_PATTERN
    message = f"Enter a valid username. {USERNAME_RULE}: OpenPAI's rule, which every API of the platform shares."


class User(AbstractUser):
    """A person or program using the platform; ``is_superuser`` is the platform's admin flag."""

    username_validator = UsernameValidator()

    username = models.CharField(
        "username",
        max_length=150,
        unique=True,
        help_text=f"Required. 150 characters or fewer. {USERNAME_RULE}.",
        validators=[username_validator],
        error_messages={"unique": "A user with that username already exists."},
    )
    virtual_clusters = models.CharField(
        max_length=512,
        default="default",
        blank=True,
        help_text="OpenPAI virtual clusters this user may submit jobs to, comma-separated.",
    )

    credentials_epoch = models.PositiveIntegerField(
        default=0,
        editable=False,
        help_text="Raised to revoke every token and session the user holds (the admin's Revoke tokens action).",
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        db_table = "accounts_user"

    def get_session_auth_hash(self) -> str:
        """Django's session hash, which ends console and Linkis ticket sessions when the password changes, changed
        too when the user's credentials are revoked (``credentials_epoch``)."""
        base = super().get_session_auth_hash()
        return base if not self.credentials_epoch else f"{base}:{self.credentials_epoch}"

    @property
    def is_admin(self) -> bool:
        """Admins see and manage every user's jobs, users and tokens (OpenPAI ``admin``, Linkis ``isAdmin``)."""
        return self.is_superuser

    def clean_fields(self, exclude=None):
        """Validate the fields, but not a name the user already has: one from before the rule stays valid."""
        exclude = set(exclude or ())
        if "username" not in exclude and not self._state.adding and self.pk is not None:
            if type(self)._default_manager.filter(pk=self.pk, username=self.username).exists():
                exclude.add("username")
        super().clean_fields(exclude=exclude)


class ApiTokenQuerySet(models.QuerySet):
    def usable(self):
        """Return tokens that are active and not expired."""
        now = timezone.now()
        return self.filter(is_active=True).filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now))


def hash_token_code(code: str) -> str:
    """Return the stored form of a token code; the code itself is never stored."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


class ApiToken(models.Model):
    """A token for Linkis ``Token-Code``/``Token-User`` headers, as Linkis's ``linkis_mg_gateway_auth_token``.

    ``legal_users`` and ``legal_hosts`` are comma-separated lists, ``*`` meaning any; a host entry may be an
    address or a network (``10.0.0.0/8``).
    """

    name = models.CharField(max_length=128, unique=True, help_text="A label for people, e.g. the client's name.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    key_prefix = models.CharField(max_length=8, editable=False, help_text="First characters of the code.")
    legal_users = models.TextField(default="*", help_text="Usernames this token may act as, comma-separated; * = any.")
    legal_hosts = models.TextField(default="*", help_text="Client addresses or networks, comma-separated; * = any.")
    is_admin_token = models.BooleanField(
        default=False, help_text="May submit jobs on behalf of another user (Linkis executeUser)."
    )
    is_active = models.BooleanField(default=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = "API token"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @property
    def legal_user_names(self) -> set[str]:
        """``legal_users`` as a set of names (``*`` included as it is)."""
        return {item.strip() for item in self.legal_users.split(",") if item.strip()}

    def allows_user(self, username: str) -> bool:
        users = self.legal_user_names
        return "*" in users or username in users

    def allows_host(self, host: str) -> bool:
        entries = [item.strip() for item in self.legal_hosts.split(",") if item.strip()]
        if "*" in entries:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return host in entries
        for entry in entries:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                if entry == host:
                    return True
        return False
