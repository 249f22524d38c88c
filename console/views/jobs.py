"""Console pages of jobs (Linkis entrance) and OpenPAI jobs.

The pages are rendered from the job selectors; what changes while a page is open (statuses, progress, the log)
is followed in the browser: the job list refreshes its unfinished rows through ``jobs_status`` (one request for
the whole page), the job page follows the job with LiveJob over Linkis's WebSocket and HTTP routes, and the
OpenPAI pages read task logs and stop jobs through OpenPAI's routes. Result sets download as CSV here, streamed
row by row from the result set file, and a job's log as text, read from the log store a page at a time.
"""

from __future__ import annotations

import csv
import datetime as dt

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from dataplatform.api.exceptions import NotFoundError
from jobs.engines import engine_names
from jobs.logstore import log_read
from jobs.models import PAI_FINAL_STATES, TERMINAL, Job, JobStatus, PaiJobState
from jobs.openpai import selectors as pai_selectors
from jobs.openpai.capacity import RESOURCES
from jobs.selectors import (
    UNFINISHED,
    job_get_for_user,
    job_list_by_ids,
    job_result_count,
    job_result_table,
    job_search,
    job_visible,
)

JOBS_PER_PAGE = 50
LOG_DOWNLOAD_PAGE = 5000
PAI_JOBS_PER_PAGE = 50
LOG_DOWNLOAD_PAGE = 5000
STATUS_IDS_MAX = 200
#: How the OpenPAI page names the Ray cluster's resources (``jobs.openpai.capacity.RESOURCES``).
RESOURCE_LABELS = {"CPU": "CPU", "GPU": "GPU", "memoryMB": "Memory (MB)"}


def _any(choices) -> list[tuple[str, str]]:
    return [("", "Any"), *choices]


DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class FilterForm(forms.Form):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class JobFilterForm(FilterForm):
    """The job list's filters (GET); a field with a bad value is reported and left out of the query."""

    status = forms.ChoiceField(
        required=False, choices=_any([(UNFINISHED, "Not finished"), *JobStatus.choices]), label="Status"
    )
    engine = forms.ChoiceField(
        required=False, choices=lambda: _any([(name, name) for name in engine_names()]), label="Engine"
    )
    creator = forms.CharField(required=False, max_length=64, label="Creator")
    source = forms.ChoiceField(required=False, choices=_any(Job.SourceApi.choices), label="Source API")
    created_from = forms.DateField(required=False, label="Submitted from", widget=DATE_INPUT)
    created_to = forms.DateField(required=False, label="Submitted until", widget=DATE_INPUT)
    owner = forms.CharField(required=False, max_length=150, label="Owner (username)")

    def clean(self):
        data = super().clean()
        start, end = data.get("created_from"), data.get("created_to")
        if start and end and start > end:
            self.add_error("created_to", "The end date is before the start date.")
        return data


def _cleaned(form: forms.Form) -> dict:
    """The valid fields of a bound filter form (the invalid ones are shown as errors and not applied)."""
    if not form.is_bound:
        return {}
    form.is_valid()
    return form.cleaned_data


def _first_line(code: str, limit: int = 80) -> str:
    line = next((part for part in code.splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _duration(start, end) -> str:
    if not start:
        return ""
    seconds = int(((end or timezone.now()) - start).total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _error_text(job: Job) -> str:
    """``code: description`` of a finished job's error; empty for a job without one (or not finished)."""
    if not job.is_terminal or not (job.error_code or job.error_desc):
        return ""
    return f"{job.error_code}: {job.error_desc}" if job.error_code else job.error_desc


def _time_text(value) -> str | None:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %Z") if value else None


@login_required(login_url="console:login")
@require_GET
def jobs(request):
    """The user's jobs (an admin's: everyone's), newest first, filtered and paged."""
    admin = bool(getattr(request.user, "is_admin", False))
    form = JobFilterForm(request.GET or None)
    data = _cleaned(form)
    queryset = job_search(user=request.user, filters=data, admin=admin)
    page = Paginator(queryset, JOBS_PER_PAGE).get_page(request.GET.get("page"))
    for job in page.object_list:
        job.code_line = _first_line(job.code)
        job.duration = _duration(job.started_at, job.finished_at)
    context = {
        "form": form,
        "page": page,
        "admin": admin,
        "filtered": any(data.get(name) for name in form.fields),
        "final_statuses": [str(status) for status in TERMINAL],
    }
    return render(request, "console/jobs.html", context)


@login_required(login_url="console:login")
@require_GET
def jobs_status(request):
    """Statuses of the listed jobs the user may see (``?ids=1,2,3``), for the list and job pages' live parts."""
    ids = []
    for part in request.GET.get("ids", "").split(","):
        if part.strip().isdigit():
            ids.append(int(part))
    found = job_list_by_ids(user=request.user, ids=ids[:STATUS_IDS_MAX])
    answer = [
        {
            "taskID": job.pk,
            "status": job.status,
            "progress": round(job.shown_progress, 4),
            "final": job.is_terminal,
            "startedAt": _time_text(job.started_at),
            "finishedAt": _time_text(job.finished_at),
            "duration": _duration(job.started_at, job.finished_at),
            "error": _error_text(job),
            "exitCode": job.exit_code,
        }
        for job in found
    ]
    return JsonResponse({"jobs": answer})


def _rerun(job: Job) -> dict | None:
    """What the job page's "Run again" submits (Linkis's ``submit`` body parts) and "Open in workbench" loads; None
    for a job a platform service started with an environment or paths the Linkis API cannot give (an OpenPAI
    task, an application's job): run again through that API, it would not be the same job."""
    if job.env or job.grants:
        return None
    labels = {**(job.labels or {}), "engineType": job.engine_type}
    labels.setdefault("userCreator", f"{job.execute_user}-{job.creator}")
    return {
        "code": job.code,
        "runType": job.run_type,
        "labels": labels,
        "params": job.params or {},
        "engine": job.engine_type.split("-")[0],
    }


def _job_or_404(request, task_id: int) -> Job:
    job = job_get_for_user(user=request.user, ident=str(task_id))
    if job is None:
        raise Http404("No such job.")
    return job


@login_required(login_url="console:login")
@require_GET
def job(request, task_id: int):
    """One job: code, metadata, live status, progress and log, kill, and its result sets once finished."""
    job = _job_or_404(request, task_id)
    pai_task = pai_selectors.pai_task_of_job(job)
    context = {
        "job": job,
        "final_statuses": [str(status) for status in TERMINAL],
        "result_files": job_result_count(job),
        "duration": _duration(job.started_at, job.finished_at),
        "error_text": _error_text(job),
        "pai_task": pai_task,
        "rerun": _rerun(job),
    }
    return render(request, "console/job.html", context)


class _Echo:
    """A file-like object whose ``write`` returns the text, so that csv.writer can feed a generator."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(names: list[str], rows):
    writer = csv.writer(_Echo())
    try:
        yield writer.writerow(names)
        for row in rows:
            yield writer.writerow(row)
    finally:
        rows.close()


@login_required(login_url="console:login")
@require_GET
def job_result_csv(request, task_id: int, index: int):
    """The whole result set ``_<index>.dolphin`` of a job as CSV, streamed row by row."""
    job = _job_or_404(request, task_id)
    found = job_result_table(job, index, null_value=request.GET.get("nullValue", "NULL"))
    if found is None:
        raise Http404("No such result set.")
    names, rows = found
    response = StreamingHttpResponse(_csv_lines(names, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="job-{job.pk}-result-{index}.csv"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _log_text(job_id: int):
    start = 1
    while True:
        page = log_read(job_id=job_id, from_line=start, size=LOG_DOWNLOAD_PAGE)
        if not page:
            return
        yield "".join(f"{text}\n" for _, _, text in page)
        start = page[-1][0] + 1


@login_required(login_url="console:login")
@require_GET
def job_log(request, task_id: int):
    """A job's whole log as plain text (what is written so far, for a job still running), one line per line."""
    job = _job_or_404(request, task_id)
    response = StreamingHttpResponse(_log_text(job.pk), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="job-{job.pk}.log"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- OpenPAI ----------------------------------------------------------------------------------------------------
class PaiJobFilterForm(FilterForm):
    user = forms.CharField(
        required=False, max_length=150, label="User", widget=forms.TextInput(attrs={"list": "pai-users"})
    )
    state = forms.ChoiceField(required=False, choices=_any(PaiJobState.choices), label="State")


@login_required(login_url="console:login")
@require_GET
def openpai(request):
    """Every user's OpenPAI jobs (as upstream: reading needs no ownership), newest first, by user and state."""
    form = PaiJobFilterForm(request.GET or None)
    data = _cleaned(form)
    username = (data.get("user") or "").strip() or None
    queryset = pai_selectors.pai_job_search(username=username, state=data.get("state"))
    page = Paginator(queryset, PAI_JOBS_PER_PAGE).get_page(request.GET.get("page"))
    for pai in page.object_list:
        pai.item = pai_selectors.v1_list_item(pai)
        pai.shown_state = pai.item["state"]
    context = {
        "form": form,
        "page": page,
        "users": pai_selectors.pai_owner_names(),
        "filtered": bool(username or data.get("state")),
        "usage": _vc_usage_shown() if settings.OPENPAI_RUNNER == "ray" else None,
        # The nodes (hosts and what is free on each) are the operators' business; the shares are everyone's.
        "show_nodes": bool(getattr(request.user, "is_admin", False)),
    }
    return render(request, "console/openpai.html", context)


def _vc_usage_shown() -> dict:
    """``vc_usage()`` with each VC's resources as a list of rows the template can walk: name, used, capacity, %."""
    usage = pai_selectors.vc_usage()
    for vc in usage["virtual_clusters"]:
        vc["resources"] = [
            {
                "label": RESOURCE_LABELS[key],
                "used": vc["used"][key],
                "capacity": vc["capacity"][key],
                "percent": vc["percent"][key],
            }
            for key in RESOURCES
        ]
    usage["resource_labels"] = [RESOURCE_LABELS[key] for key in RESOURCES]
    usage["alive_nodes"] = sum(1 for node in usage["nodes"] if node.alive)
    return usage


def _ms_time(value) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC) if value else None


def _pai_shown_progress(status: dict, task_roles: dict) -> float:
    """All of it for a job that succeeded; for a failed or stopped one, where it stopped: the share of its tasks
    that succeeded (OpenPAI's ``appProgress`` says 1.0 for any ended job)."""
    if status["state"] not in PAI_FINAL_STATES or status["state"] == PaiJobState.SUCCEEDED:
        return float(status["appProgress"] or 0)
    tasks = [task for role in task_roles.values() for task in role["taskStatuses"]]
    done = sum(1 for task in tasks if task["taskState"] == "SUCCEEDED")
    return round(done / len(tasks), 4) if tasks else 0.0


@login_required(login_url="console:login")
@require_GET
def openpai_job(request, username: str, job_name: str):
    """One OpenPAI job: its status (and why it waits), each task role with its tasks (state, host, GPUs, ports,
    what it used, exit code, job, log), Stop."""
    try:
        pai = pai_selectors.pai_job_get_or_error(name=job_name, username=username)
    except NotFoundError:
        raise Http404("No such OpenPAI job.") from None
    detail = pai_selectors.job_detail(pai, viewer=request.user)
    status = detail["jobStatus"]
    may_manage = bool(getattr(request.user, "is_admin", False) or pai.owner_id == request.user.pk)
    configured = {role["name"]: role for role in pai.roles()}
    task_jobs = pai_selectors.pai_task_jobs(pai)
    task_gpus = pai_selectors.pai_task_gpus(pai)
    roles = []
    for name, role in detail["taskRoles"].items():
        tasks = []
        for task in role["taskStatuses"]:
            task_job = task_jobs.get(task["jobId"])
            tasks.append(
                {
                    **task,
                    "ports": ", ".join(f"{label}: {ports}" for label, ports in task["containerPorts"].items()),
                    "jobVisible": task_job is not None and job_visible(user=request.user, job=task_job),
                    "jobStatus": task_job.status if task_job is not None else None,
                    "gpus": ", ".join(task_gpus.get((name, task["taskIndex"]), [])),
                }
            )
        roles.append({"name": name, "config": configured.get(name, {}), "tasks": tasks})
    context = {
        "pai": pai,
        "status": status,
        "roles": roles,
        "times": {
            "created": _ms_time(status["createdTime"]),
            "launched": _ms_time(status["appLaunchedTime"]),
            "completed": _ms_time(status["appCompletedTime"]),
        },
        "progress": (shown := _pai_shown_progress(status, detail["taskRoles"])),
        "progress_percent": round(shown * 100),
        "may_manage": may_manage,
        "final": status["state"] in PAI_FINAL_STATES,
        "api_url": f"/api/v1/user/{pai.owner.username}/jobs/{pai.name}",
    }
    return render(request, "console/openpai_job.html", context)
