"""OpenPAI job configs: validation with upstream's Joi rules and defaults (v0.7 ``src/config/job.js``, plus v0.9's
``jobEnvs`` and job-name pattern), and the rules upstream checks in its controller.

Every violation is reported with Joi's text, which names the field (``child "taskRoles" fails because
["taskRoles" is required]``); the cross-field rules name the role and both numbers.
"""

from __future__ import annotations

import json
import re
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


INT_MAX = 2**31 - 1  # the database's integer; upstream's Joi numbers are unbounded
ENV_NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_]*"

PORT_SCHEMA = joi.Object(
    keys={
        "label": _string(required=True, pattern=ROLE_NAME_PATTERN),
        "beginAt": joi.Number(integer=True, min=0, max=65535, default=0),
        "portNumber": joi.Number(integer=True, min=1, max=100, default=1),
    }
)

TASK_ROLE_SCHEMA = joi.Object(
    keys={
        "name": _string(required=True, pattern=ROLE_NAME_PATTERN),
        "taskNumber": joi.Number(integer=True, min=1, max=INT_MAX, default=1),
        "cpuNumber": joi.Number(integer=True, min=0, max=INT_MAX, default=1),
        "memoryMB": joi.Number(integer=True, min=0, max=INT_MAX, default=100),
        "shmMB": joi.Number(integer=True, min=0, max=INT_MAX, default=64),
        "gpuNumber": joi.Number(integer=True, min=0, max=INT_MAX, default=0),
        "portList": joi.Array(items=PORT_SCHEMA, default=[]),
        "command": _string(required=True),
        "minFailedTaskCount": joi.Number(integer=True, min=1, max=INT_MAX, allow_null=True, default=1),
        "minSucceededTaskCount": joi.Number(integer=True, min=1, max=INT_MAX, allow_null=True, default=None),
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

    def _json_schema(self) -> dict[str, Any]:
        return {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}


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
        "retryCount": joi.Number(integer=True, min=-2, max=INT_MAX, default=0),
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
    _no_nul(data, "")
    for env_name in config["jobEnvs"]:
        if not re.fullmatch(ENV_NAME_PATTERN, env_name):
            raise ConfigError(f'child "jobEnvs" fails because ["{env_name}" is not a valid environment variable name]')
    raw_roles = data.get("taskRoles") or []
    seen: set[str] = set()
    total = 0
    for position, role in enumerate(config["taskRoles"]):
        where = f'taskRoles[{position}] "{role["name"]}"'
        if role["name"] in seen:
            raise ConfigError(f"{where}: task role names must be unique")
        seen.add(role["name"])
        if not role["command"].strip():
            raise ConfigError(f'{where}: "command" is not allowed to be empty')
        if len(role["command"].encode()) > settings.JOB_MAX_CODE_BYTES:
            raise ConfigError(f'{where}: "command" is longer than {settings.JOB_MAX_CODE_BYTES} bytes')
        raw = raw_roles[position] if isinstance(raw_roles[position], dict) else {}
        if "shmMB" not in raw:  # the default (64) never exceeds what the role's memory allows
            role["shmMB"] = min(role["shmMB"], role["memoryMB"])
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
        for port in role["portList"]:
            # Every task runs on this host, so fixed ports are given out task by task from beginAt on.
            last = port["beginAt"] + port["portNumber"] * count - 1 if port["beginAt"] else 0
            if last > 65535:
                raise ConfigError(
                    f'{where}: port "{port["label"]}" needs ports {port["beginAt"]}..{last} for {count} tasks; '
                    "ports end at 65535"
                )
    if total > settings.OPENPAI_MAX_TASKS_PER_JOB:
        raise ConfigError(
            f"taskRoles: the job has {total} task instances, more than the platform's limit of "
            f"{settings.OPENPAI_MAX_TASKS_PER_JOB} (OPENPAI_MAX_TASKS_PER_JOB)"
        )
    return config


def _no_nul(value: Any, path: str) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise ConfigError(f"{path or 'value'}: NUL characters are not allowed")
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key, path)
            _no_nul(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _no_nul(item, f"{path}[{index}]")


def resolve_dirs(config: dict, *, username: str, default_fs: str) -> dict:
    """``$PAI_DEFAULT_FS_URI`` substituted in the four directories; an empty outputDir gets upstream's default."""
    out = dict(config)
    for key in ("authFile", "dataDir", "outputDir", "codeDir"):
        out[key] = out[key].replace(DEFAULT_FS_VARIABLE, default_fs)
    if not out["outputDir"]:
        out["outputDir"] = f"{default_fs}/Output/{username}/{config['jobName']}"
    return out
