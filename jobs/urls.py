"""The job core's routes: one wire package per contract."""

from dataplatform.routes import family

urlpatterns = [
    family(("api/rest_j/",), "jobs.linkis.urls"),
    family(("api/job", "api/v1/", "api/v2/"), "jobs.openpai.urls"),
]
