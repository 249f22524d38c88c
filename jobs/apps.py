from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs"

    def ready(self):
        from jobs.models import Job
        from jobs.openpai.services import pai_settle_all, pai_task_finished
        from jobs.services import on_job_finished

        on_job_finished(Job.SourceApi.OPENPAI, pai_task_finished, sweep=pai_settle_all)
