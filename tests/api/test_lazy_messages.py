"""The message storage (Django's messages framework) is made only for the requests that use it."""

import pytest
from django.contrib.messages.storage import default_storage

pytestmark = pytest.mark.django_db


@pytest.fixture
def built(monkeypatch):
    made = []

    def counting(request):
        made.append(request.path)
        return default_storage(request)

    monkeypatch.setattr("dataplatform.api.middleware.default_storage", counting)
    return made


def test_an_api_read_makes_no_message_storage(client, built):
    response = client.get("/healthz")
    assert response.status_code == 200 and built == [] and "messages" not in response.cookies


def test_a_message_added_by_a_view_reaches_the_next_page(admin_client, built):
    response = admin_client.post(
        "/admin/accounts/apitoken/add/", {"name": "nightly", "code": "", "legal_users": "*", "legal_hosts": "*"}
    )
    assert response.status_code == 302 and built  # the view used the storage: the message is kept for the next page
    page = admin_client.get(response["Location"])
    assert "Token code for nightly" in page.content.decode()
