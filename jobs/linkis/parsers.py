"""Linkis submissions into the job core's ``JobSpec``: ``entrance/execute``'s 0.x body (also sent over the
WebSocket) and ``entrance/submit``'s 1.x body. A body the job core cannot take raises ``JobRequestError`` with the
reason Linkis's error codes name (``jobs.linkis.errors``)."""

from __future__ import annotations

from jobs import services
from jobs.services import REFUSED_CODE, REFUSED_LABELS, REFUSED_NO_CODE, REFUSED_PARAMS, JobRequestError


def object_param(value, name: str) -> dict:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise JobRequestError(REFUSED_PARAMS, f"{name} must be an object.")
    return value


def labels_timeouts(labels: dict) -> dict:
    return {
        "timeout_seconds": labels.get("jobRunningTimeout"),
        "queue_timeout_seconds": labels.get("jobQueuingTimeout"),
    }


def with_version(name: str) -> str:
    name = name.strip()
    if "-" in name:
        return name
    return services.DEFAULT_ENGINE_VERSIONS.get(name.lower(), name)


def spec_from_execute(body: dict) -> services.JobSpec:
    """Build a job spec from Linkis's 0.x ``execute`` body (also sent over the WebSocket)."""
    source = object_param(body.get("source"), "source")
    labels = object_param(body.get("labels"), "labels")
    params = object_param(body.get("params"), "params")
    code = body.get("executionCode")
    creator = body.get("requestApplicationName") or "IDE"
    if not isinstance(code, str) or not code.strip():
        if source.get("scriptPath"):
            raise JobRequestError(
                REFUSED_CODE,
                "The param executionCode cannot be empty (参数 executionCode 不能为空): running a script by its "
                "scriptPath alone is not supported here; send the code as executionCode.",
            )
        raise JobRequestError(
            REFUSED_CODE,
            "The param executionCode and scriptPath cannot be empty at the same time"
            "(参数 executionCode 和 scriptPath 不能同时为空)",
        )
    application = body.get("executeApplicationName")
    if not isinstance(application, str) or not application.strip():
        raise JobRequestError(
            REFUSED_LABELS,
            "Label params invalid: executeApplicationName is required, e.g. python, shell, spark, hive or jdbc.",
        )
    return services.JobSpec(
        code=code,
        engine_type=with_version(application),
        run_type=str(body.get("runType") or "sql"),
        creator=str(creator),
        params=params,
        source=source,
        labels=labels,
        **labels_timeouts(labels),
    )


def spec_from_submit(body: dict) -> services.JobSpec:
    """Build a job spec from Linkis's 1.x ``submit`` body."""
    labels = body.get("labels")
    if not labels:
        raise JobRequestError(REFUSED_PARAMS, "params cannot be empty ,  labels is null")
    labels = object_param(labels, "labels")
    content = object_param(body.get("executionContent"), "executionContent")
    if "code" not in content:
        raise JobRequestError(REFUSED_NO_CODE, "The param executionCode cannot be empty (参数 executionCode 不能为空)")
    engine_type = labels.get("engineType")
    if not isinstance(engine_type, str) or not engine_type.strip():
        raise JobRequestError(
            REFUSED_LABELS,
            "Label params invalid You need to specify engineTypeLabel in labels,such as spark-2.4.3",
        )
    run_type = content.get("runType") or labels.get("codeType")
    if not isinstance(run_type, str) or not run_type.strip():
        raise JobRequestError(
            REFUSED_LABELS,
            "Label params invalid You need to specify runType in execution content, such as sql",
        )
    user_creator = labels.get("userCreator")
    creator = "IDE"
    if isinstance(user_creator, str) and "-" in user_creator:
        creator = user_creator.split("-", 1)[1] or "IDE"
    execute_user = body.get("executeUser")
    return services.JobSpec(
        code=content["code"],
        engine_type=engine_type.strip(),
        run_type=run_type.strip(),
        creator=creator,
        params=object_param(body.get("params"), "params"),
        source=object_param(body.get("source"), "source"),
        labels=labels,
        execute_user=execute_user if isinstance(execute_user, str) and execute_user.strip() else None,
        **labels_timeouts(labels),
    )
