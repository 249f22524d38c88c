"""The session store is made only for the requests that use it; every other answer is Django's own."""

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


@pytest.fixture
def made(monkeypatch):
    from dataplatform.api.middleware import LazySessionMiddleware

    stores: list[str | None] = []
    original = LazySessionMiddleware.__init__

    def init(self, get_response):
        original(self, get_response)
        store = self.SessionStore

        def counting(session_key=None):
            stores.append(session_key)
            return store(session_key)

        self.SessionStore = counting

    monkeypatch.setattr(LazySessionMiddleware, "__init__", init)
    return stores


def test_an_api_read_without_a_cookie_makes_no_session_store(client, made):
    response = client.get("/healthz")
    assert response.status_code == 200 and made == []
    assert settings.SESSION_COOKIE_NAME not in response.cookies and "Cookie" not in response.get("Vary", "")


def test_a_login_still_sets_the_session_cookie_and_the_next_page_reads_it(client, made, django_user_model):
    django_user_model.objects.create_user(username="alice", password="pw-alice-123")
    response = client.post("/console/login/?next=/console/jobs/", {"username": "alice", "password": "pw-alice-123"})
    assert response.status_code == 302 and settings.SESSION_COOKIE_NAME in response.cookies
    assert "Cookie" in response["Vary"]
    page = client.get(response["Location"])
    assert page.status_code == 200 and page.wsgi_request.user.username == "alice"
    assert made  # the login and the page each made their store


def test_a_request_with_the_cookie_is_handled_by_djangos_middleware(client, made, django_user_model):
    django_user_model.objects.create_user(username="alice", password="pw-alice-123")
    client.post("/console/login/", {"username": "alice", "password": "pw-alice-123"})
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    made.clear()
    read = client.get("/healthz")
    assert read.status_code == 200 and made == [key]  # made to see whether it must be deleted or saved: neither
    assert settings.SESSION_COOKIE_NAME not in read.cookies
    out = client.post("/console/logout/")
    assert out.status_code == 302 and out.cookies[settings.SESSION_COOKIE_NAME].value == ""  # flushed: deleted
