"""Errors raised by services (domain errors) and by views (wire errors of one API family).

Services raise ``ApplicationError`` subclasses and never import ``rest_framework``; each family's views or
exception handler decides how a domain error looks on its wire. A ``WireError`` is already in one family's terms
(its status and body fields are final) and is rendered as is by that family's handler.
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A domain rule refused an operation; ``code`` tells callers which rule, ``extra`` carries details."""

    def __init__(self, message: str, *, code: str = "", extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.extra = extra or {}


class NotFoundError(ApplicationError):
    """The object named by the request does not exist (or is not visible to the caller)."""


class ConflictError(ApplicationError):
    """The request conflicts with the current state (a duplicate name, a running program...)."""


class ForbiddenError(ApplicationError):
    """The caller is authenticated but may not do this."""


class InvalidInputError(ApplicationError):
    """The request is well-formed but its values break a rule."""


class AuthenticationError(ApplicationError):
    """Credentials were presented and rejected."""


class ThrottledError(ApplicationError):
    """Too many attempts; retry after ``wait`` seconds."""

    def __init__(self, message: str, *, wait: int, code: str = "throttled") -> None:
        super().__init__(message, code=code, extra={"wait": wait})
        self.wait = wait


class WireError(Exception):
    """An error already expressed in one API family's terms; the family's handler renders it unchanged."""

    family = ""


class LinkisError(WireError):
    """A Linkis envelope error: ``status`` 1 (error), 2 (validation), 3 (auth), -1 (login) or 4 (warning).

    With ``err_code`` the message takes Linkis's ``error code(错误码): N, error message(错误信息): desc.`` form and
    ``data.errorMsg`` carries the code, as Linkis's ``catchMsg`` does for its ErrorException subclasses.
    """

    family = "linkis"

    def __init__(
        self,
        message: str,
        *,
        status: int = 1,
        err_code: int | None = None,
        data: dict[str, Any] | None = None,
        method: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.err_code = err_code
        self.data = data or {}
        self.method = method
        self.http_status = http_status


class OpenPAIError(WireError):
    """An OpenPAI seed (v0.1) error: ``{error, message}`` with the seed's HTTP status."""

    family = "openpai"

    def __init__(self, http_status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.error = error
        self.message = message


class OpenPAIV1Error(WireError):
    """An OpenPAI ``/api/v1`` (v0.7) error: ``{code, message}`` with upstream's HTTP status."""

    family = "openpai_v1"

    def __init__(self, http_status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message


class CDAPError(WireError):
    """A CDAP error: upstream's HTTP status with a plain-text body."""

    family = "cdap"

    def __init__(self, http_status: int, message: str) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.message = message


class OpenMLDBError(WireError):
    """An OpenMLDB APIServer error: ``{code, msg}`` with HTTP 200, as the APIServer answers every error."""

    family = "openmldb"

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
