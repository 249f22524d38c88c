"""Paths outside every API family, from outside (issue 16, item 4).

A browser (``text/html`` in ``Accept``) keeps Django's HTML pages; any other client (no Accept, ``*/*``, JSON)
gets the platform's neutral JSON envelope ``{"detail": ...}`` with the same status. ``POST /`` is a connection
check for HTTP clients (the OpenMLDB Airflow provider's ``test_connection`` posts the bare base URL): 200 with the
platform's name and version, no CSRF token needed, nothing changed.
"""

import pytest
from django.apps import apps
from django.conf import settings
from django.test import Client

from dataplatform.accounts.models import User
from tests.accounts.factories import PASSWORD

pytestmark = pytest.mark.django_db

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
API_ACCEPTS = [None, "*/*", "application/json", "application/json, text/plain, */*", "text/html;q=0"]


def get(client: Client, method: str, path: str, accept: str | None, **extra):
    if accept is not None:
        extra["HTTP_ACCEPT"] = accept
    return client.generic(method, path, **extra)


def row_counts() -> dict[str, int]:
    """Rows of every model: what a request that changes nothing leaves as it was."""
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


@pytest.mark.parametrize("accept", API_ACCEPTS)
@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
@pytest.mark.parametrize("path", ["/nowhere", "/console/no-such-page/", "/index.php", "/v2/namespaces"])
def test_unknown_path_is_a_json_404_for_api_clients(accept, method, path):
    before = row_counts()
    response = get(Client(enforce_csrf_checks=True), method, path, accept)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response.json() == {"detail": f"Not found: {method} {path}"}
    assert row_counts() == before


@pytest.mark.parametrize("accept", [BROWSER, "text/html", "application/xhtml+xml"])
def test_unknown_path_is_djangos_html_404_for_browsers(accept):
    response = get(Client(), "GET", "/nowhere", accept)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    # The console's layout: its stylesheet and links back, not Django's bare page.
    assert "<h1>Page not found</h1>" in page and "console/console.css" in page
    assert "There is no page at <code>/nowhere</code>." in page and 'href="/console/"' in page
    assert 'href="/console/login/?next=/nowhere"' in page  # not logged in: a way to log in


def test_error_pages_use_the_console_layout_with_its_navigation(user, rf):
    client = Client()
    client.force_login(user)
    page = client.get("/console/jobs/999999/", HTTP_ACCEPT=BROWSER).content.decode()
    assert 'data-testid="error-page" data-status="404"' in page
    assert 'href="/console/jobs/"' in page and 'href="/console/features/"' in page  # the console's navigation
    assert 'data-testid="user-name">alice' in page and "/console/login/" not in page
    from django.template import loader

    for code in ("400", "403", "500"):
        html = loader.get_template(f"{code}.html").render({}, rf.get("/x") if code != "500" else None)
        assert f'data-status="{code}"' in html and 'href="/console/"' in html and "console/console.css" in html


def test_a_pages_own_404_is_json_for_api_clients_and_html_for_browsers(user):
    client = Client()
    client.force_login(user)
    response = client.get("/console/jobs/999999/", HTTP_ACCEPT="application/json")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found: GET /console/jobs/999999/"}
    page = client.get("/console/jobs/999999/", HTTP_ACCEPT=BROWSER)
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


def test_api_prefixes_keep_their_family_envelope():
    # the neutral envelope is only for paths no family owns
    response = Client().get("/api/v1/nowhere", HTTP_ACCEPT="application/json")
    assert response.json() == {"code": "NoApiError", "message": "API /api/v1/nowhere is not found."}
    response = Client().get("/dbs/d/nowhere", HTTP_ACCEPT=BROWSER)
    assert response.status_code == 200 and response.json() == {"code": -1, "msg": "no match method"}


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", BROWSER])
def test_post_root_answers_the_platforms_name_and_version(accept, user):
    client = Client(enforce_csrf_checks=True)  # no CSRF cookie or token, as an HTTP client posts
    before = row_counts()
    response = get(client, "POST", "/", accept)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"name": "dataplatform", "version": settings.PLATFORM_VERSION}
    assert not response.cookies  # no session, no CSRF cookie
    assert row_counts() == before


def test_post_root_ignores_a_body_and_credentials(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)  # a session cookie without a CSRF token: still no CSRF page, since nothing changes
    before = row_counts()
    response = client.post("/", {"username": "x", "password": "y"}, HTTP_AUTHORIZATION="Basic eDp5")
    assert response.status_code == 200
    assert response.json() == {"name": "dataplatform", "version": settings.PLATFORM_VERSION}
    assert row_counts() == before


def test_get_root_is_still_the_home_page():
    response = Client().get("/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert b"<h1>Data platform</h1>" in response.content and b'<a href="/console/">Console</a>' in response.content


def test_csrf_failure_on_a_page_is_json_for_api_clients_and_html_for_browsers(user):
    form = {"username": "alice", "password": PASSWORD}
    response = Client(enforce_csrf_checks=True).post("/admin/login/", form, HTTP_ACCEPT="application/json")
    assert response.status_code == 403
    body = response.json()
    assert set(body) == {"detail"} and body["detail"].startswith("CSRF Failed: ")
    page = Client(enforce_csrf_checks=True).post("/admin/login/", form, HTTP_ACCEPT=BROWSER)
    assert page.status_code == 403 and page["Content-Type"].startswith("text/html")
    assert User.objects.get(username="alice").last_login is None  # neither request logged in
