"""``manage.py bootstrap_admin``: the first admin once, from the environment or with a printed password."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from dataplatform.accounts.models import User

pytestmark = pytest.mark.django_db


def run(monkeypatch, **environ):
    for key in ("ADMIN_USERNAME", "ADMIN_PASSWORD"):
        monkeypatch.delenv(key, raising=False)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    out = StringIO()
    call_command("bootstrap_admin", stdout=out)
    return out.getvalue()


def test_generated_password_is_printed_once_and_works(monkeypatch):
    output = run(monkeypatch)
    password = output.split("Its password is: ")[1].split()[0]
    admin = User.objects.get(username="admin")
    assert admin.is_admin and admin.check_password(password)
    again = run(monkeypatch)
    assert "nothing to do" in again and "password" not in again
    assert User.objects.count() == 1


def test_from_environment(monkeypatch):
    output = run(monkeypatch, ADMIN_USERNAME="ops", ADMIN_PASSWORD="ops-password")
    assert "Created admin account 'ops'" in output and "Its password is" not in output
    assert User.objects.get(username="ops").check_password("ops-password")
    run(monkeypatch, ADMIN_USERNAME="ops", ADMIN_PASSWORD="changed-password")
    assert User.objects.get(username="ops").check_password("ops-password")


def test_short_environment_password_refused(monkeypatch):
    with pytest.raises(CommandError, match="at least 6"):
        run(monkeypatch, ADMIN_USERNAME="ops", ADMIN_PASSWORD="123")
    assert not User.objects.exists()
