"""Jobs in the admin: filters by owner, engine, status and dates; the log; result sets; a kill action. OpenPAI
jobs with their tasks (each linked to its job) and a stop action; the Ray cluster's nodes with each virtual cluster's
use of its share."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.models import Group
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from dataplatform.admin import ReadOnlyAdminMixin
from dataplatform.api.exceptions import ConflictError, ForbiddenError
from jobs.engines import engine_names
from jobs.engines.resultset import list_resultsets, read_resultset
from jobs.logstore import log_read
from jobs.models import Job, PaiJob, PaiTask, RayNode, Worker
from jobs.openpai import capacity
from jobs.openpai import selectors as pai_selectors
from jobs.openpai import services as pai_services
from jobs.selectors import engines_granted, job_submit_users
from jobs.services import engine_grants_set, job_kill

LOG_PREVIEW_LINES = 500
RESULT_PREVIEW_ROWS = 20


# --- engine rights on users and groups ------------------------------------------------------------------------------
class EngineRightsFormMixin(forms.ModelForm):
    """An "Engines" checkbox list on the user and group forms: the ``jobs.use_engine_*`` permissions, which the
    permission list below it then leaves out."""

    engines = forms.MultipleChoiceField(
        choices=lambda: [(engine, engine) for engine in engine_names()],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Engines this account may run jobs on (OpenPAI tasks and CDAP programs need shell). A user "
        "with no engine of their own or of a group gets JOB_DEFAULT_ENGINES; admins may use every engine.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["engines"].initial = engines_granted(self.instance)
        field = self.fields.get("user_permissions") or self.fields.get("permissions")
        if field is not None:
            field.queryset = field.queryset.exclude(content_type__app_label="jobs", codename__startswith="use_engine_")


def save_engine_rights(form) -> None:
    """After the form's many-to-many fields were saved (which cleared the engine permissions it hides)."""
    engine_grants_set(principal=form.instance, engines=form.cleaned_data.get("engines") or [])


class GroupAdmin(DjangoGroupAdmin):
    class form(EngineRightsFormMixin):  # noqa: N801 - Django's attribute name
        class Meta:
            model = Group
            fields = ("name", "permissions")

    fields = ("name", "engines", "permissions")

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        save_engine_rights(form)


admin.site.unregister(Group)
admin.site.register(Group, GroupAdmin)


#: The admin's colour of each job state (the console's palette): green done, red failed, amber stopped, blue running.
STATE_COLOURS = {"Succeed": "#1a7f37", "Failed": "#b42318", "Timeout": "#b42318", "Cancelled": "#9a6700",
                 "Running": "#123f8c", "Scheduled": "#123f8c"}  # fmt: skip


def _state_colour(status: str) -> str:
    return STATE_COLOURS.get(status, "#555")


def _seconds(value) -> str:
    """A time to the second, in the server's zone (the admin's own format leaves seconds out)."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else "—"


class SubmitUserFilter(admin.SimpleListFilter):
    """Filter by submitting user with a text box that suggests names as they are typed (a list of every user would
    be thousands of pixels tall)."""

    title = "submit user"
    parameter_name = "submit_user"
    template = "admin/jobs/job/user_filter.html"

    def lookups(self, request, model_admin):
        return ()  # the template's text box and its suggestions stand for the list of links

    def has_output(self) -> bool:
        return True

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        return queryset.filter(submit_user=value) if value else queryset

    def choices(self, changelist):
        # What the template needs: the current value, the other parameters to keep, and the names to suggest.
        kept = [(key, value) for key, value in changelist.params.items() if key != self.parameter_name]
        yield {"value": self.value() or "", "kept": kept, "names": list(job_submit_users())}


CODE_STYLE = "font-family: monospace; white-space: pre; overflow: auto; max-height: 40em; margin: 0"


def _json_block(value) -> str:
    """A JSON field as people read it: indented, in a monospace block (read-only)."""
    return format_html('<pre style="{}">{}</pre>', CODE_STYLE, json.dumps(value, indent=2, ensure_ascii=False))


@admin.register(Job)
class JobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    admin_change = "no"  # jobs move by their runner; the kill action calls the service
    admin_delete = True
    list_display = ("id", "submit_user", "engine", "run_type", "status_badge", "progress_percent", "source_api",
                    "created", "finished", "duration")  # fmt: skip
    list_filter = ("status", "engine", "source_api", "created_at", SubmitUserFilter)
    search_fields = ("=id", "submit_user", "execute_user", "code")
    date_hierarchy = "created_at"
    list_select_related = ("owner",)
    raw_id_fields = ("owner",)
    actions = ["kill_jobs"]
    readonly_fields = (
        "exec_id", "owner", "submit_user", "execute_user", "source_api", "creator", "engine_type", "run_type",
        "engine", "instance", "status", "progress", "progress_info", "error_code", "error_desc", "exit_code",
        "timeout_seconds", "queue_timeout_seconds", "params", "source", "labels", "env", "runner", "pid",
        "kill_requested_at", "kill_requested_by", "created_at", "scheduled_at", "started_at", "finished_at",
        "log_lines", "log_dropped", "code_block", "log_preview", "result_sets", "params_json", "source_json",
        "labels_json", "env_json", "progress_info_json",
    )  # fmt: skip
    fieldsets = (
        (None, {"fields": ("exec_id", "status", "progress", "owner", "submit_user", "execute_user", "source_api")}),
        (
            "Engine",
            {
                "fields": (
                    "engine_type",
                    "run_type",
                    "engine",
                    "creator",
                    "instance",
                    "runner",
                    "pid",
                    "exit_code",
                    "timeout_seconds",
                    "queue_timeout_seconds",
                )
            },
        ),  # fmt: skip
        (
            "Outcome",
            {"fields": ("error_code", "error_desc", "kill_requested_at", "kill_requested_by", "progress_info_json")},
        ),  # fmt: skip
        ("Times", {"fields": ("created_at", "scheduled_at", "started_at", "finished_at")}),
        ("Code", {"fields": ("code_block", "params_json", "source_json", "labels_json", "env_json")}),
        ("Log", {"fields": ("log_lines", "log_dropped", "log_preview")}),
        ("Results", {"fields": ("result_sets",)}),
    )

    @admin.display(description="created", ordering="created_at")
    def created(self, job: Job) -> str:
        return _seconds(job.created_at)

    @admin.display(description="finished", ordering="finished_at")
    def finished(self, job: Job) -> str:
        return _seconds(job.finished_at)

    @admin.display(description="duration")
    def duration(self, job: Job) -> str:
        """From start to end (or to now while it runs)."""
        if job.started_at is None:
            return "—"
        seconds = int(((job.finished_at or timezone.now()) - job.started_at).total_seconds())
        hours, rest = divmod(max(seconds, 0), 3600)
        return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"

    @admin.display(description="status", ordering="status")
    def status_badge(self, job: Job) -> str:
        return format_html(
            '<span style="color: {}; font-weight: bold">{}</span>', _state_colour(job.status), job.status
        )

    @admin.display(description="progress", ordering="progress")
    def progress_percent(self, job: Job) -> str:
        """All of it for a job that succeeded; where it stopped, in the state's colour, for any other."""
        return format_html('<span style="color: {}">{}%</span>', _state_colour(job.status),
                           f"{job.shown_progress * 100:.0f}")  # fmt: skip

    @admin.display(description="code")
    def code_block(self, job: Job) -> str:
        """The code as written: monospace, indentation and line breaks kept."""
        return format_html('<pre class="job-code" style="{}">{}</pre>', CODE_STYLE, job.code)

    @admin.display(description="params")
    def params_json(self, job: Job) -> str:
        return _json_block(job.params)

    @admin.display(description="source")
    def source_json(self, job: Job) -> str:
        return _json_block(job.source)

    @admin.display(description="labels")
    def labels_json(self, job: Job) -> str:
        return _json_block(job.labels)

    @admin.display(description="env")
    def env_json(self, job: Job) -> str:
        return _json_block(job.env)

    @admin.display(description="progress info")
    def progress_info_json(self, job: Job) -> str:
        return _json_block(job.progress_info)

    @admin.display(description="log")
    def log_preview(self, job: Job) -> str:
        start = max(job.log_lines - LOG_PREVIEW_LINES + 1, 1)
        lines = log_read(job_id=job.pk, from_line=start)
        header = f"Lines {start}–{job.log_lines} of {job.log_lines}" if job.log_lines else "No log lines yet."
        return format_html(
            '<p>{}</p><pre style="max-height:40em;overflow:auto;white-space:pre-wrap">{}</pre>',
            header,
            "\n".join(text for _, _, text in lines),
        )

    @admin.display(description="result sets")
    def result_sets(self, job: Job) -> str:
        if not job.result_dir.is_dir():
            return "None."
        blocks = []
        for path in list_resultsets(job.result_dir):
            result = read_resultset(path, page=1, page_size=RESULT_PREVIEW_ROWS)
            if result["type"] == "2":
                header = format_html_join("", "<th>{}</th>", ((column["columnName"],) for column in result["metadata"]))
            else:
                header = format_html("<th>{}</th>", "text")
            rows = format_html_join(
                "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),)
                                    for row in result["fileContent"])
            )  # fmt: skip
            blocks.append(
                format_html(
                    "<h4>{} ({} lines)</h4><table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>",
                    path.name,
                    result["totalLine"],
                    header,
                    rows,
                )  # fmt: skip
            )
        return format_html_join("", "{}", ((block,) for block in blocks)) if blocks else "None."

    @admin.action(description="Kill selected jobs")
    def kill_jobs(self, request, queryset):
        """Ask first (the jobs, their states); on confirmation kill each one and record it in the admin log."""
        if request.POST.get("post") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": "Kill these jobs?",
                "opts": self.model._meta,
                "jobs": list(queryset.order_by("pk")),
                "action": "kill_jobs",
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/jobs/job/kill_confirmation.html", context)
        killed = 0
        for job in queryset:
            try:
                job_kill(job=job, actor=request.user)
            except (ForbiddenError, ConflictError) as exc:
                self.message_user(request, f"Job {job.pk}: {exc.message}", messages.WARNING)
            else:
                killed += 1
                self.log_change(request, job, "Asked to kill the job.")
        if killed:
            self.message_user(request, f"Asked to kill {killed} job(s).", messages.SUCCESS)
        return None


def _amount(value) -> str:
    return capacity.amount(value) if isinstance(value, int | float) else str(value)


def _resources(value: dict) -> str:
    """{"CPU": 8, "GPU": 1, "memoryMB": 16384} as "CPU 8, GPU 1, memoryMB 16384" (in the capacity's order)."""
    value = value or {}
    shown = [key for key in capacity.RESOURCES if key in value] + sorted(set(value) - set(capacity.RESOURCES))
    return ", ".join(f"{key} {_amount(value[key])}" for key in shown) or "—"


class PaiTaskInline(admin.TabularInline):
    model = PaiTask
    fields = ("attempt", "role", "index", "job_link", "task_state", "host", "gpu_ids", "used", "ports")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ("-attempt", "role", "index")

    @admin.display(description="job")
    def job_link(self, task: PaiTask) -> str:
        if task.job_id is None:
            return "—"
        return format_html('<a href="{}">{}</a>', reverse("admin:jobs_job_change", args=[task.job_id]), task.job_id)

    @admin.display(description="state")
    def task_state(self, task: PaiTask) -> str:
        return pai_selectors.task_state(task)

    @admin.display(description="GPUs")
    def gpu_ids(self, task: PaiTask) -> str:
        return ", ".join(str(gpu) for gpu in task.gpus or []) or "—"

    @admin.display(description="used")
    def used(self, task: PaiTask) -> str:
        """What the task used, once it ended (the ``ray`` runner): CPU seconds, peak memory, whether it was capped."""
        usage = task.usage or {}
        if not usage:
            return "—"
        limited = " (memory limited)" if usage.get("memoryLimited") else ""
        return (
            f"{_amount(usage.get('cpuSeconds', '?'))} CPU s, {_amount(usage.get('maxMemoryMB', '?'))} MB peak{limited}"
        )


@admin.register(PaiJob)
class PaiJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """OpenPAI jobs: state, attempts, exit code and diagnostics, and every task with a link to its job."""

    admin_delete = True  # jobs are submitted through the OpenPAI API; the stop action calls the service

    list_display = ("name", "owner", "current_state", "virtual_cluster", "retries", "exit_code", "created_at",
                    "completed_at")  # fmt: skip
    list_filter = ("state", "virtual_cluster", "owner")
    search_fields = ("name", "owner__username")
    list_select_related = ("owner",)
    fields = ("name", "owner", "current_state", "waiting_reason", "execution_type", "virtual_cluster", "image",
              "attempt", "retries", "retry_count", "exit_code", "exit_type", "exit_diagnostics", "created_at",
              "completed_at", "config_as_submitted")  # fmt: skip
    readonly_fields = fields
    inlines = [PaiTaskInline]
    actions = ["stop_jobs"]

    @admin.display(description="state")
    def current_state(self, pai: PaiJob) -> str:
        return pai_selectors.job_status(pai)["state"]

    @admin.display(description="config (as submitted)")
    def config_as_submitted(self, pai: PaiJob) -> str:
        return format_html("<pre>{}</pre>", pai.config_raw)

    @admin.action(description="Stop selected OpenPAI jobs")
    def stop_jobs(self, request, queryset):
        for pai in queryset.select_related("owner"):
            if not request.user.has_perm("jobs.change_paijob", pai):
                self.message_user(request, f"{pai}: you may not stop it.", messages.ERROR)
                continue
            try:
                pai_services.pai_job_execute(pai=pai, actor=request.user, value="STOP")
            except (ConflictError, ForbiddenError) as error:
                self.message_user(request, f"{pai}: {error.message}", messages.WARNING)
            else:
                self.log_change(request, pai, "Stopped the OpenPAI job.")
                self.message_user(request, f"{pai}: stopping.", messages.SUCCESS)


@admin.register(RayNode)
class RayNodeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The Ray cluster's nodes as the gang dispatcher last saw them (read-only: it refreshes them), under a table of
    each virtual cluster's share, what its running jobs hold of it, and its running and waiting jobs."""

    admin_change = "no"
    list_display = ("host", "node_id", "alive", "total_resources", "available_resources", "updated_at")
    list_filter = ("alive",)
    search_fields = ("host", "node_id")
    ordering = ("-alive", "host", "node_id")

    @admin.display(description="total")
    def total_resources(self, node: RayNode) -> str:
        return _resources(node.total)

    @admin.display(description="available")
    def available_resources(self, node: RayNode) -> str:
        return _resources(node.available)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "vc_usage": pai_selectors.vc_usage()}
        return super().changelist_view(request, extra_context)


@admin.register(Worker)
class WorkerAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The celery runner's workers and their heartbeats (read-only: workers register themselves)."""

    list_display = ("identity", "host", "pid", "concurrency", "sandbox", "started_at", "heartbeat_at")
    search_fields = ("identity", "host")
    admin_change = "no"
    admin_delete = True  # a worker that is gone for good
