"""Password logins from web requests: every login route (console, admin, OpenPAI, Linkis) goes through
``authenticate_request``, so they share one throttle and all hand out the device cookie that keeps a user's own
browser or client out of the throttle others cause (``dataplatform.accounts.throttling``)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from dataplatform.accounts import services
from dataplatform.accounts.models import User
from dataplatform.accounts.throttling import KNOWN_SECONDS, LoginClient, device_token_issue
from dataplatform.api.request import client_ip

_DEVICE_ATTRIBUTE = "_platform_login_device"


def login_client(request: HttpRequest) -> LoginClient:
    """The client attempting a login: its address (``NUM_PROXIES`` rule) and its device cookie."""
    return LoginClient(address=client_ip(request), device=request.COOKIES.get(settings.LOGIN_DEVICE_COOKIE, ""))


def authenticate_request(request: HttpRequest, *, username: str, password: str) -> User:
    """Check the password as ``services.user_authenticate`` does; on success the response will carry a fresh
    device cookie for this user (set by ``LoginDeviceCookieMiddleware``)."""
    request = getattr(request, "_request", request)  # a DRF Request wraps Django's
    user = services.user_authenticate(username=username, password=password, client=login_client(request))
    setattr(request, _DEVICE_ATTRIBUTE, device_token_issue(user.username))
    return user


class LoginDeviceCookieMiddleware:
    """Set the device cookie on the response of a successful login (any route)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        token = getattr(request, _DEVICE_ATTRIBUTE, None)
        if token:
            response.set_cookie(
                settings.LOGIN_DEVICE_COOKIE,
                token,
                max_age=KNOWN_SECONDS,
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        return response
