"""Login forms of the console and the admin: the same service and failed-login throttle as every API login."""

from __future__ import annotations

from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from dataplatform.accounts.login import authenticate_request
from dataplatform.api.exceptions import AuthenticationError, ThrottledError


class ThrottledAuthenticationMixin:
    """``clean`` of Django's AuthenticationForm, through ``authenticate_request`` instead of ``authenticate``."""

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            try:
                user = authenticate_request(self.request, username=username, password=password)
            except ThrottledError as exc:
                raise ValidationError(exc.message, code="throttled") from None
            except AuthenticationError:
                raise self.get_invalid_login_error() from None
            user.backend = "django.contrib.auth.backends.ModelBackend"
            self.user_cache = user
            self.confirm_login_allowed(user)
        return self.cleaned_data


class ThrottledAuthenticationForm(ThrottledAuthenticationMixin, AuthenticationForm):
    """The console's login form."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Your username and password didn't match. Please try again.",
    }
