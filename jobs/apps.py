from django.apps import AppConfig
from django.conf import settings
from django.core import checks


def check_job_settings(app_configs=None, **kwargs) -> list[checks.Error]:
    """Engine names in JOB_DEFAULT_ENGINES must exist; JOB_OS_USER must name someone."""
    from jobs.engines import engine_names

    errors = []
    unknown = sorted(set(settings.JOB_DEFAULT_ENGINES) - set(engine_names()))
    if unknown:
        errors.append(
            checks.Error(
                f"JOB_DEFAULT_ENGINES names unknown engines: {', '.join(unknown)}.",
                hint=f"Use some of {','.join(engine_names())} (comma-separated), or leave it empty.",
                id="jobs.E001",
            )
        )
    if settings.JOB_SANDBOX and not settings.JOB_OS_USER.strip():
        errors.append(
            checks.Error(
                "JOB_OS_USER is empty: users' code needs an OS user to run as.",
                hint="Unset it (platform-job) or name an unprivileged user.",
                id="jobs.E002",
            )
        )
    if settings.OPENPAI_RUNNER not in ("local", "ray"):
        errors.append(
            checks.Error(
                f"OPENPAI_RUNNER is {settings.OPENPAI_RUNNER!r}.",
                hint="Use 'local' (tasks run on the job core's runner) or 'ray' (gang-scheduled on a Ray cluster).",
                id="jobs.E003",
            )
        )
    from jobs.openpai.capacity import ShareError, parse_shares

    try:
        shares = parse_shares(settings.OPENPAI_VC_SHARES)
    except ShareError as error:
        errors.append(checks.Error(f"OPENPAI_VC_SHARES cannot be read: {error}", id="jobs.E004"))
    else:
        unknown = sorted(set(shares) - set(settings.OPENPAI_VIRTUAL_CLUSTERS))
        if unknown:
            errors.append(
                checks.Error(
                    f"OPENPAI_VC_SHARES names virtual clusters that do not exist: {', '.join(unknown)}.",
                    hint="Name only virtual clusters of OPENPAI_VIRTUAL_CLUSTERS.",
                    id="jobs.E005",
                )
            )
    return errors


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs"

    def ready(self):
        from django.db.models.signals import post_migrate

        from jobs.services import engine_permissions_ensure

        checks.register(check_job_settings)
        from dataplatform.startup import server_start_hook
        from jobs.runners import start_runner

        server_start_hook("job-runner", start_runner, enabled=lambda: settings.JOB_RUNNER_AUTOSTART)
        from jobs.runners.ray_service import start_dispatcher_process

        server_start_hook(
            "openpai-ray",
            start_dispatcher_process,
            enabled=lambda: settings.OPENPAI_RUNNER == "ray" and settings.OPENPAI_RAY_DISPATCHER_AUTOSTART,
        )
        # After every app's ready(): engines registered by other apps (the feature store's sql) get theirs too.
        post_migrate.connect(engine_permissions_ensure, dispatch_uid="jobs.engine_permissions")

        from jobs.models import Job
        from jobs.openpai.services import pai_settle_all, pai_task_finished
        from jobs.services import on_job_finished

        on_job_finished(Job.SourceApi.OPENPAI, pai_task_finished, sweep=pai_settle_all)
