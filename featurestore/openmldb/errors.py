"""OpenMLDB's ``{code, msg}``: the APIServer's answer bodies, and the feature store's refusals in its terms.

Every answer is HTTP 200: ``{"code": 0, "msg": "ok", ...}`` or an error's ``{code, msg}``. Below the wire, services
raise ``FeatureStoreError`` (``featurestore.errors``) with OpenMLDB's status code; ``wire_error`` turns it into the
family's ``OpenMLDBError``, which the views' exception handling and the fast path both answer with.
"""

from __future__ import annotations

from dataplatform.api.exceptions import OpenMLDBError
from featurestore.errors import FeatureStoreError

OK = {"code": 0, "msg": "ok"}


def ok(**extra) -> dict:
    """A successful answer's body, with the route's fields."""
    return {**OK, **extra}


def wire_error(exc: BaseException) -> BaseException:
    """The error to answer with: a ``FeatureStoreError`` as the ``OpenMLDBError`` of its code and message."""
    if isinstance(exc, FeatureStoreError):
        return OpenMLDBError(exc.code, exc.msg)
    return exc


def error_body(error: OpenMLDBError | FeatureStoreError) -> dict:
    """The ``{code, msg}`` body of an OpenMLDB error or of a feature store refusal."""
    return {"code": error.code, "msg": error.msg}
