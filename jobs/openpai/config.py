"""OpenPAI job configs: validation with upstream's Joi rules and defaults (v0.7 ``src/config/job.js``, plus v0.9's
``jobEnvs`` and job-name pattern), and the rules upstream checks in its controller.

Every violation is reported with Joi's text, which names the field (``child "taskRoles" fails because
["taskRoles" is required]``); the cross-field rules name the role and both numbers.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings

from dataplatform.api import joi

#: v0.9+: no '~' in job names, so ``user~job`` names a job unambiguously (the v0.8+ namespaced form).
JOB_NAME_PATTERN = r"^[A-Za-z0-9\-._]+$"
ROLE_NAME_PATTERN = r"^[A-Za-z0-9._~]+$"
OBSOLETE = "has been obsoleted, please use minFailedTaskCount and minSucceededTaskCount instead."
DEFAULT_FS_VARIABLE = "$PAI_DEFAULT_FS_URI"


class ConfigError(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _string(**kwargs) -> joi.String:
    return joi.String(**kwargs)


PORT_SCHEMA = joi.Object(
    keys={
        "label": _string(required=True, pattern=ROLE_NAME_PATTERN),
        "beginAt": joi.Number(integer=True, min=0, default=0),
        "portNumber": joi.Number(integer=True, min=1, max=100, default=1),
    }
)

TASK_ROLE_SCHEMA = joi.Object(
    keys={
        "name": _string(required=True, pattern=ROLE_NAME_PATTERN),
        "taskNumber": joi.Number(integer=True, min=1, default=1),
        "cpuNumber": joi.Number(integer=True, min=0, default=1),
        "memoryMB": joi.Number(integer=True, min=0, default=100),
        "shmMB": joi.Number(integer=True, min=0, default=64),
        "gpuNumber": joi.Number(integer=True, min=0, default=0),
        "portList": joi.Array(items=PORT_SCHEMA, default=[]),
        "command": _string(required=True),
        "minFailedTaskCount": joi.Number(integer=True, min=1, allow_null=True, default=1),
        "minSucceededTaskCount": joi.Number(integer=True, min=1, allow_null=True, default=None),
    },
    refused={"killAllOnCompletedTaskNumber": OBSOLETE},
)


class _EnvValue(joi.Schema):
    """A ``jobEnvs`` value: a string, number or boolean, given to the tasks as text."""

    def check(self, value: Any, label: str) -> Any:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str | int | float):
            return str(value)
        raise joi.JoiError(f'"{label}" must be a string, a number or a boolean')


JOB_SCHEMA = joi.Object(
    keys={
        "jobName": _string(required=True, pattern=JOB_NAME_PATTERN, max=255),
        "image": _string(required=True),
        "authFile": _string(allow_empty=True, default=""),
        "dataDir": _string(allow_empty=True, default=""),
        "outputDir": _string(allow_empty=True, default=""),
        "codeDir": _string(allow_empty=True, default=""),
        "virtualCluster": _string(allow_empty=True, default="default"),
        "gpuType": _string(allow_empty=True, default=""),
        "retryCount": joi.Number(integer=True, min=-2, default=0),
        "jobEnvs": joi.Object(values=_EnvValue(), default={}),
        "taskRoles": joi.Array(items=TASK_ROLE_SCHEMA, min=1, required=True),
    },
    refused={"killAllOnCompletedTaskNumber": OBSOLETE},
)


def parse_body(raw: bytes) -> Any:
    """The JSON body, or ConfigError (a job config is JSON; upstream's body parser refuses anything else)."""
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise ConfigError(f"the request body is not valid JSON: {error}") from None


def validate_config(data: Any, *, name: str | None = None) -> dict:
    """The config with upstream's defaults filled in, or ConfigError naming the field or rule broken.

    ``name`` (from the URL) replaces the body's ``jobName``, as upstream's PUT does.
    """
    if not isinstance(data, dict):
        raise ConfigError('"value" must be an object')
    if name is not None:
        data = {**data, "jobName": name}
    try:
        config = joi.validate(data, JOB_SCHEMA)
    except joi.JoiError as error:
        raise ConfigError(error.message) from None
    seen: set[str] = set()
    total = 0
    for position, role in enumerate(config["taskRoles"]):
        where = f'taskRoles[{position}] "{role["name"]}"'
        if role["name"] in seen:
            raise ConfigError(f"{where}: task role names must be unique")
        seen.add(role["name"])
        if not role["command"].strip():
            raise ConfigError(f'{where}: "command" is not allowed to be empty')
        count = role["taskNumber"]
        total += count
        for key in ("minFailedTaskCount", "minSucceededTaskCount"):
            if role[key] is not None and role[key] > count:
                raise ConfigError(f"{where}: {key} {role[key]} should not be greater than tasks number {count}")
        if role["shmMB"] > role["memoryMB"]:
            raise ConfigError(f'{where}: "shmMB" {role["shmMB"]} must be less than or equal to memoryMB '
                              f'{role["memoryMB"]}')  # fmt: skip
        labels = [port["label"] for port in role["portList"]]
        if len(set(labels)) != len(labels):
            raise ConfigError(f"{where}: port labels must be unique")
    if total > settings.OPENPAI_MAX_TASKS_PER_JOB:
        raise ConfigError(
            f"taskRoles: the job has {total} task instances, more than the platform's limit of "
            f"{settings.OPENPAI_MAX_TASKS_PER_JOB} (OPENPAI_MAX_TASKS_PER_JOB)"
        )
    return config


def resolve_dirs(config: dict, *, username: str, default_fs: str) -> dict:
    """``$PAI_DEFAULT_FS_URI`` substituted in the four directories; an empty outputDir gets upstream's default."""
    out = dict(config)
    for key in ("authFile", "dataDir", "outputDir", "codeDir"):
        out[key] = out[key].replace(DEFAULT_FS_VARIABLE, default_fs)
    if not out["outputDir"]:
        out["outputDir"] = f"{default_fs}/Output/{username}/{config['jobName']}"
    return out
