"""Linkis's error codes (``EntranceErrorCodeSummary`` / ``EntranceErrorCode``, the filesystem's) for what the job
core refuses; a job that ended badly carries its own code (``jobs.models.JobErrorCode``)."""

from __future__ import annotations

import re

from dataplatform.api.exceptions import LinkisError
from dataplatform.api.families import linkis_error_info, linkis_error_message
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


# --- the workspace (Linkis's ``WorkspaceExceptionManager``, linkis-pes-publicservice) ---------------------------
#: ``data.errorMsg.serviceKind`` of the filesystem's errors: Linkis serves them from its public service.
PUBLIC_SERVICE = "linkis-ps-publicservice"
ERR_FS_TIMEOUT = 80002
ERR_FS_PATH_EMPTY = 80004
ERR_FS_DIR_EXISTS = 80005
ERR_FS_FILE_EXISTS = 80006
ERR_FS_RENAME_EXISTS = 80007
ERR_FS_DELETE_MISSING = 80008
ERR_FS_DELETE_DENIED = 80009
ERR_FS_DOWNLOAD_MISSING = 80011
ERR_FS_MISSING = 80013
ERR_FS_NAME = 80028
ERR_FS_USER = 80031
ERR_FS_TOO_LARGE = 80032
ERR_UNSUPPORTED_FILE = 54001
ERR_INVALID_PARAMETER = 65000

#: The texts, ``{0}``/``{1}`` filled as Java's ``MessageFormat`` fills them (``null`` for a missing value).
WORKSPACE_TEXTS = {
    ERR_FS_TIMEOUT: "The user has obtained the filesystem for more than {0} ms. Please contact the administrator"
    "(用户获取filesystem的时间超过{0} ms，请联系管理员)",
    ERR_FS_PATH_EMPTY: "The path:{0} is empty(路径:{0} 为空)!",
    ERR_FS_DIR_EXISTS: "The created folder name:{0} is duplicated(创建的文件夹名:{0} 重复)",
    ERR_FS_FILE_EXISTS: "The file name:{0} created is duplicated(创建的文件名:{0} 重复)",
    ERR_FS_RENAME_EXISTS: "The renamed name:{0} is repeated,(重命名的名字:{0} 重复)",
    ERR_FS_DELETE_MISSING: "The deleted file or folder does not exist(删除的文件or文件夹不存在)!",
    ERR_FS_DELETE_DENIED: "This user does not have permission to delete this file or folder"
    "(该用户无权删除此文件或文件夹)!",
    ERR_PATH_PERMISSION: "The user: {0} has no permission to view the contents of the directory:{1}"
    "(该用户:{0}无权限查看该目录:{1}的内容).",
    ERR_FS_DOWNLOAD_MISSING: "Downloaded file: {0} does not exist(下载的文件:{0}不存在)",
    ERR_FS_MISSING: "File: {0} does not exist(文件:{0}不存在)",
    ERR_FS_NAME: "The path exist special char,only support numbers, uppercase letters, underscores, Chinese"
    "(路径存在特殊字符,只支持数字,字母大小写,下划线,中文)",
    ERR_FS_USER: "User: {0} not initialized(用户:{0}未初始化)",
    ERR_FS_TOO_LARGE: "The file size exceeds 30M and page viewing is currently not supported. Please download to view "
    "or view in a shared directory(文件大小超过30M，暂不支持页面查看。请下载查看或在共享目录中查看)",
    ERR_UNSUPPORTED_FILE: "Unsupported open file type(不支持打开的文件类型)",
    ERR_INVALID_PARAMETER: "Invalid custom parameter(不合法的自定义参数)",
}
#: Linkis's filesystem times out getting an HDFS filesystem after 10000 ms (``MessageFormat`` prints "10,000").
FS_TIMEOUT_MS = "10,000"


def workspace_error(code: int, *args) -> LinkisError:
    """A filesystem error as Linkis's ``catchMsg`` renders a ``WorkSpaceException``: status 1, HTTP 400."""
    desc = re.sub(
        r"\{(\d)\}", lambda m: "null" if args[int(m.group(1))] is None else str(args[int(m.group(1))]),
        WORKSPACE_TEXTS[code],
    )  # fmt: skip
    info = dict(linkis_error_info(code, desc), serviceKind=PUBLIC_SERVICE)
    return LinkisError(linkis_error_message(code, desc), data={"errorMsg": info})


def operation_failed(reason: str) -> LinkisError:
    """Linkis's ``catchMsg`` wording for an exception that is not one of its own (an IOException...)."""
    return LinkisError(f"operation failed(操作失败)s！the reason(原因)：{reason}")
