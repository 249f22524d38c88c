"""Console pages of jobs and OpenPAI jobs (included by ``console.urls``)."""

from django.urls import path

from console.views import jobs

urlpatterns = [
    path("jobs/", jobs.jobs, name="jobs"),
    path("jobs/status/", jobs.jobs_status, name="jobs_status"),
    path("jobs/<int:task_id>/", jobs.job, name="job"),
    path("jobs/<int:task_id>/results/<int:index>.csv", jobs.job_result_csv, name="job_result_csv"),
    path("jobs/<int:task_id>/log.txt", jobs.job_log, name="job_log"),
    path("openpai/", jobs.openpai, name="openpai"),
    path("openpai/<str:username>/<str:job_name>/", jobs.openpai_job, name="openpai_job"),
]
