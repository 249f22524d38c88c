"""Console pages, under /console/."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from console.views import workbench
from dataplatform.accounts.forms import ThrottledAuthenticationForm

app_name = "console"

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="console/login.html",
            redirect_authenticated_user=True,
            authentication_form=ThrottledAuthenticationForm,
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page="console:login"), name="logout"),
    path("", workbench.workbench, name="workbench"),
    path("", include("console.jobs_urls")),
    path("", include("console.explore_urls")),
]
