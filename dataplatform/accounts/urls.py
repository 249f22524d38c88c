"""Account routes; full paths, because they belong to three families with different prefixes."""

from django.urls import path

from dataplatform.accounts import views

urlpatterns = [
    # OpenPAI seed (v0.1)
    path("api/auth", views.OpenPAIAuthView.as_view(), name="openpai-auth"),
    # OpenPAI /api/v1 (v0.7)
    path("api/v1", views.OpenPAIV1RootView.as_view(), name="openpai-v1-root"),
    path("api/v1/token", views.OpenPAIV1TokenView.as_view(), name="openpai-v1-token"),
    path("api/v1/user", views.OpenPAIV1UserView.as_view(), name="openpai-v1-user"),
    path(
        "api/v1/user/<str:username>/virtualClusters",
        views.OpenPAIV1UserVirtualClustersView.as_view(),
        name="openpai-v1-user-vc",
    ),
    # Linkis gateway user endpoints
    path("api/rest_j/v1/user/login", views.LinkisLoginView.as_view(), name="linkis-login"),
    path("api/rest_j/v1/user/token-login", views.LinkisTokenLoginView.as_view(), name="linkis-token-login"),
    path("api/rest_j/v1/user/logout", views.LinkisLogoutView.as_view(), name="linkis-logout"),
    path("api/rest_j/v1/user/userInfo", views.LinkisUserInfoView.as_view(), name="linkis-user-info"),
    path("api/rest_j/v1/user/heartbeat", views.LinkisHeartbeatView.as_view(), name="linkis-heartbeat"),
]
