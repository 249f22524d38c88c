"""Users and the API tokens that staff issue for Linkis's Token-Code/Token-User authentication."""

from __future__ import annotations

import hashlib
import ipaddress

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone


class User(AbstractUser):
    """A person or program using the platform; ``is_superuser`` is the platform's admin flag."""

    virtual_clusters = models.CharField(
        max_length=512,
        default="default",
        blank=True,
        help_text="OpenPAI virtual clusters this user may submit jobs to, comma-separated.",
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        db_table = "accounts_user"

    @property
    def is_admin(self) -> bool:
        """Admins see and manage every user's jobs, users and tokens (OpenPAI ``admin``, Linkis ``isAdmin``)."""
        return self.is_superuser


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

    def allows_user(self, username: str) -> bool:
        users = {item.strip() for item in self.legal_users.split(",") if item.strip()}
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
