"""Linkis entrance, job history and filesystem routes, under ``/api/rest_j/v1``."""

from django.urls import path

from jobs.linkis import filesystem, views

P = "api/rest_j/v1/"

urlpatterns = [
    path(P + "entrance/execute", views.ExecuteView.as_view(), name="linkis-execute"),
    path(P + "entrance/submit", views.SubmitView.as_view(), name="linkis-submit"),
    path(P + "entrance/operation/metrics/runningtask", views.RunningTaskMetricView.as_view(), name="linkis-running"),
    path(P + "entrance/operation/metrics/taskinfo", views.TaskInfoMetricView.as_view(), name="linkis-taskinfo"),
    path(P + "entrance/<str:ident>/status", views.StatusView.as_view(), name="linkis-status"),
    path(P + "entrance/<str:ident>/progress", views.ProgressView.as_view(), name="linkis-progress"),
    path(
        P + "entrance/<str:ident>/progressWithResource",
        views.ProgressWithResourceView.as_view(),
        name="linkis-progress-resource",
    ),
    path(P + "entrance/<str:ident>/log", views.LogView.as_view(), name="linkis-log"),
    path(P + "entrance/<str:ident>/kill", views.KillView.as_view(), name="linkis-kill"),
    path(P + "entrance/<str:ident>/killJobs", views.KillJobsView.as_view(), name="linkis-kill-jobs"),
    path(P + "entrance/<str:ident>/pause", views.PauseView.as_view(), name="linkis-pause"),
    path(P + "jobhistory/list", views.JobHistoryListView.as_view(), name="linkis-history-list"),
    path(P + "jobhistory/<int:task_id>/get", views.JobHistoryGetView.as_view(), name="linkis-history-get"),
    path(P + "filesystem/getDirFileTrees", views.DirFileTreesView.as_view(), name="linkis-dir-trees"),
    path(P + "filesystem/openFile", views.OpenFileView.as_view(), name="linkis-open-file"),
    path(P + "filesystem/openLog", views.OpenLogView.as_view(), name="linkis-open-log"),
    path(P + "filesystem/getUserRootPath", filesystem.UserRootPathView.as_view(), name="linkis-user-root-path"),
    path(P + "filesystem/createNewDir", filesystem.CreateNewDirView.as_view(), name="linkis-create-dir"),
    path(P + "filesystem/createNewFile", filesystem.CreateNewFileView.as_view(), name="linkis-create-file"),
    path(P + "filesystem/saveScript", filesystem.SaveScriptView.as_view(), name="linkis-save-script"),
    path(P + "filesystem/rename", filesystem.RenameView.as_view(), name="linkis-rename"),
    path(P + "filesystem/deleteDirOrFile", filesystem.DeleteDirOrFileView.as_view(), name="linkis-delete"),
    path(P + "filesystem/upload", filesystem.UploadView.as_view(), name="linkis-upload"),
    path(P + "filesystem/download", filesystem.DownloadView.as_view(), name="linkis-download"),
    path(P + "filesystem/isExist", filesystem.IsExistView.as_view(), name="linkis-is-exist"),
    path(P + "filesystem/fileInfo", filesystem.FileInfoView.as_view(), name="linkis-file-info"),
]
