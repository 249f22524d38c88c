"""The feature store's domain error: a refusal that carries the OpenMLDB status code it is answered with.

``FeatureStoreError`` belongs to the project's ``ApplicationError`` family (``dataplatform.api.exceptions``), so
services and the SQL executor raise it without knowing any wire. Its ``code`` is OpenMLDB's status: -1 for the
APIServer's own checks, ``CMD_ERROR`` (2000, ``kCmdError``) for failed DDL and inserts, as upstream answers them.
The OpenMLDB wire (``featurestore.openmldb.errors``) renders it as ``{code, msg}``; the admin and the jobs ``sql``
engine show its ``msg``.
"""

from __future__ import annotations

from dataplatform.api.exceptions import ApplicationError

CMD_ERROR = 2000


class FeatureStoreError(ApplicationError):
    """A feature store operation was refused; ``code`` is the OpenMLDB status code, ``msg`` upstream's message."""

    def __init__(self, msg: str, code: int = CMD_ERROR) -> None:
        super().__init__(msg, extra={"openmldb_code": code})
        self.msg = msg
        # ApplicationError's ``code`` names the rule that refused; here that is OpenMLDB's status code.
        self.code = code
