"""Shapes of the Linkis entrance, job history and filesystem bodies."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from django.conf import settings
from rest_framework import serializers

from jobs.models import Job
from jobs.selectors import file_uri


@functools.lru_cache(maxsize=8)
def _folder_uri(folder: str) -> str:
    return file_uri(Path(folder)).rstrip("/")


def epoch_ms(value) -> int | None:
    return int(value.timestamp() * 1000) if value else None


def _text(value) -> str | None:
    """What a DRF ``CharField`` makes of an attribute."""
    return None if value is None else str(value)


class ExecuteInputSerializer(serializers.Serializer):
    """Linkis 0.x ``entrance/execute`` body (Scriptis, DSS, UJESClient JobExecuteAction)."""

    executeApplicationName = serializers.CharField(required=False)  # noqa: N815 - wire names
    executionCode = serializers.CharField(required=False, allow_blank=True)  # noqa: N815
    runType = serializers.CharField(required=False)  # noqa: N815
    requestApplicationName = serializers.CharField(required=False)  # noqa: N815
    params = serializers.DictField(required=False)
    source = serializers.DictField(required=False)
    labels = serializers.DictField(required=False)
    formatCode = serializers.BooleanField(required=False)  # noqa: N815


class SubmitInputSerializer(serializers.Serializer):
    """Linkis 1.x ``entrance/submit`` body (linkis-cli, JobSubmitAction, the Python SDK)."""

    executionContent = serializers.DictField(help_text="{code, runType}")  # noqa: N815
    params = serializers.DictField(required=False)
    source = serializers.DictField(required=False)
    labels = serializers.DictField(help_text="engineType (e.g. python-python3) and optionally userCreator, codeType")
    executeUser = serializers.CharField(required=False, help_text="Admins only: run as this user.")  # noqa: N815
    formatCode = serializers.BooleanField(required=False)  # noqa: N815


class KillJobsInputSerializer(serializers.Serializer):
    idList = serializers.ListField(child=serializers.CharField())  # noqa: N815
    taskIDList = serializers.ListField(child=serializers.IntegerField())  # noqa: N815


class QueryTaskVOSerializer(serializers.ModelSerializer):
    """Linkis's ``QueryTaskVO``: a job as the history API shows it (epoch-ms dates, progress as a string)."""

    taskID = serializers.IntegerField(source="id")  # noqa: N815
    instance = serializers.CharField()
    execId = serializers.CharField(source="short_exec_id")  # noqa: N815
    umUser = serializers.CharField(source="submit_user")  # noqa: N815
    submitUser = serializers.CharField(source="submit_user")  # noqa: N815
    executeUser = serializers.CharField(source="execute_user")  # noqa: N815
    engineInstance = serializers.SerializerMethodField()  # noqa: N815
    executionCode = serializers.CharField(source="code")  # noqa: N815
    progress = serializers.SerializerMethodField()
    logPath = serializers.SerializerMethodField()  # noqa: N815
    resultLocation = serializers.SerializerMethodField()  # noqa: N815
    status = serializers.CharField()
    createdTime = serializers.SerializerMethodField()  # noqa: N815
    updatedTime = serializers.SerializerMethodField()  # noqa: N815
    engineStartTime = serializers.SerializerMethodField()  # noqa: N815
    requestStartTime = serializers.SerializerMethodField()  # noqa: N815
    engineType = serializers.SerializerMethodField()  # noqa: N815
    errCode = serializers.SerializerMethodField()  # noqa: N815
    errDesc = serializers.SerializerMethodField()  # noqa: N815
    executeApplicationName = serializers.SerializerMethodField()  # noqa: N815
    requestApplicationName = serializers.CharField(source="creator")  # noqa: N815
    runType = serializers.CharField(source="run_type")  # noqa: N815
    paramsJson = serializers.SerializerMethodField()  # noqa: N815
    costTime = serializers.SerializerMethodField()  # noqa: N815
    strongerExecId = serializers.CharField(source="exec_id")  # noqa: N815
    sourceJson = serializers.SerializerMethodField()  # noqa: N815
    sourceTailor = serializers.SerializerMethodField()  # noqa: N815
    labels = serializers.SerializerMethodField()
    canRetry = serializers.SerializerMethodField()  # noqa: N815
    observeInfo = serializers.SerializerMethodField()  # noqa: N815
    metrics = serializers.SerializerMethodField()
    engineLogPath = serializers.SerializerMethodField()  # noqa: N815
    ecmInstance = serializers.SerializerMethodField()  # noqa: N815
    isReuse = serializers.SerializerMethodField()  # noqa: N815

    class Meta:
        model = Job
        fields = [
            "taskID", "instance", "execId", "umUser", "submitUser", "executeUser", "engineInstance",
            "executionCode", "progress", "logPath", "resultLocation", "status", "createdTime", "updatedTime",
            "engineStartTime", "requestStartTime", "engineType", "errCode", "errDesc", "executeApplicationName",
            "requestApplicationName", "runType", "paramsJson", "costTime", "strongerExecId", "sourceJson",
            "sourceTailor", "labels", "canRetry", "observeInfo", "metrics", "engineLogPath", "ecmInstance",
            "isReuse",
        ]  # fmt: skip

    def to_representation(self, job) -> dict:
        """The fields above, built directly. DRF's walk (a copy of the 34 fields per serializer, then each field's
        attribute lookup and conversion per job) was most of a history page's cost; a test holds the two equal."""
        folder = f"{self._jobs_uri}/{job.pk}"  # file_uri(job.workdir), without building its Path per job
        log_uri = f"{folder}/job.log"
        return {
            "taskID": job.id,
            "instance": _text(job.instance),
            "execId": _text(job.short_exec_id),
            "umUser": _text(job.submit_user),
            "submitUser": _text(job.submit_user),
            "executeUser": _text(job.execute_user),
            "engineInstance": self.get_engineInstance(job),
            "executionCode": _text(job.code),
            "progress": self.get_progress(job),
            "logPath": log_uri,
            "resultLocation": f"{folder}/result",
            "status": _text(job.status),
            "createdTime": epoch_ms(job.created_at),
            "updatedTime": epoch_ms(job.updated_at),
            "engineStartTime": epoch_ms(job.started_at),
            "requestStartTime": epoch_ms(job.created_at),
            "engineType": self.get_engineType(job),
            "errCode": self.get_errCode(job),
            "errDesc": self.get_errDesc(job),
            "executeApplicationName": self.get_executeApplicationName(job),
            "requestApplicationName": _text(job.creator),
            "runType": _text(job.run_type),
            "paramsJson": self.get_paramsJson(job),
            "costTime": self.get_costTime(job),
            "strongerExecId": _text(job.exec_id),
            "sourceJson": self.get_sourceJson(job),
            "sourceTailor": self.get_sourceTailor(job),
            "labels": self.get_labels(job),
            "canRetry": False,
            "observeInfo": "",
            "metrics": self.get_metrics(job),
            "engineLogPath": log_uri,
            "ecmInstance": self.get_ecmInstance(job),
            "isReuse": False,
        }

    @property
    def _jobs_uri(self) -> str:
        """``file_uri`` of the jobs' folder, as ``Job.workdir`` builds it, without a trailing slash."""
        return _folder_uri(str(settings.JOBS_DIR))

    def get_engineInstance(self, job) -> str | None:  # noqa: N802
        return f"{job.engine}:{job.pid}" if job.pid else None

    def get_progress(self, job) -> str:
        return str(round(job.progress, 4))

    def get_logPath(self, job) -> str:  # noqa: N802
        return file_uri(job.log_file)

    def get_resultLocation(self, job) -> str:  # noqa: N802
        return file_uri(job.result_dir)

    def get_createdTime(self, job) -> int | None:  # noqa: N802
        return epoch_ms(job.created_at)

    def get_updatedTime(self, job) -> int | None:  # noqa: N802
        return epoch_ms(job.updated_at)

    def get_engineStartTime(self, job) -> int | None:  # noqa: N802
        return epoch_ms(job.started_at)

    def get_requestStartTime(self, job) -> int | None:  # noqa: N802
        return epoch_ms(job.created_at)

    def get_engineType(self, job) -> str:  # noqa: N802
        return job.engine_type.split("-")[0]

    def get_errCode(self, job) -> int | None:  # noqa: N802
        return job.error_code if job.is_terminal else None

    def get_errDesc(self, job) -> str | None:  # noqa: N802
        return (job.error_desc or None) if job.is_terminal else None

    def get_executeApplicationName(self, job) -> str:  # noqa: N802
        return job.engine_type.split("-")[0]

    def get_paramsJson(self, job) -> str:  # noqa: N802
        return json.dumps(job.params, ensure_ascii=False)

    def get_costTime(self, job) -> int | None:  # noqa: N802
        if not job.started_at:
            return None
        end = job.finished_at or job.updated_at
        return int((end - job.started_at).total_seconds() * 1000)

    def get_sourceJson(self, job) -> str:  # noqa: N802
        return json.dumps(job.source, ensure_ascii=False)

    def get_sourceTailor(self, job) -> str:  # noqa: N802
        return job.source.get("scriptPath", "") if isinstance(job.source, dict) else ""

    def get_labels(self, job) -> list[str]:
        labels = {"userCreator": f"{job.execute_user}-{job.creator}", "codeType": job.run_type,
                  "engineType": job.engine_type}  # fmt: skip
        for key, value in (job.labels or {}).items():
            labels.setdefault(str(key), value if isinstance(value, str) else json.dumps(value))
        return [f"{key}:{value}" for key, value in labels.items()]

    def get_canRetry(self, job) -> bool:  # noqa: N802
        return False

    def get_observeInfo(self, job) -> str:  # noqa: N802
        return ""

    def get_metrics(self, job) -> dict:
        return {
            "submitTime": epoch_ms(job.created_at),
            "scheduleTime": epoch_ms(job.scheduled_at),
            "startTime": epoch_ms(job.started_at),
            "completeTime": epoch_ms(job.finished_at),
        }

    def get_engineLogPath(self, job) -> str:  # noqa: N802
        return file_uri(job.log_file)

    def get_ecmInstance(self, job) -> str:  # noqa: N802
        return job.runner

    def get_isReuse(self, job) -> bool:  # noqa: N802
        return False


class PathInputSerializer(serializers.Serializer):
    """``createNewDir``, ``createNewFile`` and ``deleteDirOrFile`` bodies."""

    path = serializers.CharField(help_text="file:///<workspace>/<user>/...")


class RenameInputSerializer(serializers.Serializer):
    oldDest = serializers.CharField()  # noqa: N815 - wire names
    newDest = serializers.CharField()  # noqa: N815


class SaveScriptInputSerializer(serializers.Serializer):
    """``saveScript``: the file must exist (``createNewFile``); ``params`` become the script's ``@set`` header."""

    path = serializers.CharField()
    scriptContent = serializers.CharField(allow_blank=True, required=False)  # noqa: N815
    params = serializers.DictField(required=False, help_text="{variable: {k: v}, configuration: {startup: {...}}}")
    charset = serializers.CharField(required=False, help_text="default utf-8")


class DownloadInputSerializer(serializers.Serializer):
    path = serializers.CharField()
    charset = serializers.CharField(required=False)
