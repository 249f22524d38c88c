"""OpenPAI job routes: the seed's /api/job, v0.7's /api/v1/jobs, v0.8's /api/v1/user/:username/jobs, and v0.14's
job protocol v2 submit (POST /api/v2/jobs; its jobs are read through the v1 routes, as openpaisdk reads them)."""

from django.urls import path

from jobs.openpai import views


def _job_routes(prefix: str, suffix: str) -> list:
    job = prefix + "/<str:job_name>"
    return [
        path(prefix, views.V1JobListView.as_view(), name=f"openpai-v1-jobs{suffix}"),
        path(job, views.V1JobView.as_view(), name=f"openpai-v1-job{suffix}"),
        path(job + "/config", views.V1JobConfigView.as_view(), name=f"openpai-v1-job-config{suffix}"),
        path(job + "/ssh", views.V1JobSshView.as_view(), name=f"openpai-v1-job-ssh{suffix}"),
        path(job + "/executionType", views.V1ExecutionTypeView.as_view(), name=f"openpai-v1-job-exec{suffix}"),
        path(
            job + "/tasks/<str:task_role>/<int:task_index>/log",
            views.V1TaskLogView.as_view(),
            name=f"openpai-v1-task-log{suffix}",
        ),
    ]


urlpatterns = [
    path("api/job", views.SeedJobListView.as_view(), name="openpai-jobs"),
    path("api/job/<str:job_name>", views.SeedJobView.as_view(), name="openpai-job"),
    *_job_routes("api/v1/jobs", ""),
    *_job_routes("api/v1/user/<str:username>/jobs", "-user"),
    path("api/v2/jobs", views.V2JobListView.as_view(), name="openpai-v2-jobs"),
]
