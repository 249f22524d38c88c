"""Create the first admin account once; later runs change nothing."""

from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from dataplatform.accounts.models import User
from dataplatform.accounts.services import user_create
from dataplatform.api.exceptions import ApplicationError
from dataplatform.env import env_str


class Command(BaseCommand):
    help = (
        "Create an admin account from ADMIN_USERNAME/ADMIN_PASSWORD, or 'admin' with a generated password printed "
        "once, unless an admin already exists. Idempotent."
    )

    def handle(self, *args, **options):
        username = env_str("ADMIN_USERNAME")
        password = env_str("ADMIN_PASSWORD")
        with transaction.atomic():
            if username:
                if User.objects.filter(username=username).exists():
                    self.stdout.write(f"Admin account '{username}' exists; nothing to do.")
                    return
            elif User.objects.filter(is_superuser=True).exists():
                names = ", ".join(User.objects.filter(is_superuser=True).values_list("username", flat=True)[:5])
                self.stdout.write(f"Admin account exists ({names}); nothing to do.")
                return
            generated = not password
            if generated:
                password = secrets.token_urlsafe(12)
            elif len(password) < 6:
                raise CommandError("ADMIN_PASSWORD must be at least 6 characters long.")
            try:
                user = user_create(username=username or "admin", password=password, is_admin=True)
            except (ApplicationError, ValidationError) as exc:
                raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Created admin account '{user.username}'."))
        if generated:
            self.stdout.write(
                self.style.WARNING(
                    f"Its password is: {password}\nIt is printed only this once; change it in the admin."
                )
            )
