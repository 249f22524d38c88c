"""Linkis's error codes (``EntranceErrorCodeSummary`` / ``EntranceErrorCode``, the filesystem's) for what the job
core refuses; a job that ended badly carries its own code (``jobs.models.JobErrorCode``)."""

from __future__ import annotations

from jobs.services import REFUSED_CODE, REFUSED_LABELS, REFUSED_NO_CODE, REFUSED_PARAMS, REFUSED_QUEUE_FULL

ERR_EXECUTE_USER = 20005
ERR_CODE_EMPTY = 20007
ERR_PARAMS_EMPTY = 20008
ERR_LABEL_INVALID = 20009
ERR_ONLY_CODE = 20010
ERR_SUBMIT_FAILED = 30009
ERR_PATH_PERMISSION = 80010
ERR_PAGE_SIZE = 80034

#: The job core's refusal reasons (``JobRequestError.code``) as Linkis numbers them.
REFUSAL_CODES = {
    REFUSED_CODE: ERR_CODE_EMPTY,
    REFUSED_NO_CODE: ERR_ONLY_CODE,
    REFUSED_PARAMS: ERR_PARAMS_EMPTY,
    REFUSED_LABELS: ERR_LABEL_INVALID,
    REFUSED_QUEUE_FULL: ERR_SUBMIT_FAILED,
}


def refusal_code(reason: str) -> int:
    """Linkis's error code for a refusal reason (a reason it has no number for is a parameter error)."""
    return REFUSAL_CODES.get(reason, ERR_PARAMS_EMPTY)
