"""The user admin beyond Django's: links to what a user owns, and revoking their tokens and sessions."""

import pytest
from django.test import Client

from dataplatform.accounts import services
from dataplatform.accounts.models import ApiToken
from jobs.models import Job
from jobs.services import JobSpec, job_submit
from tests.accounts.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, admin_user):
    assert client.post("/admin/login/", {"username": admin_user.username, "password": PASSWORD}).status_code == 302
    return client


def test_a_users_page_links_to_their_jobs_and_tokens(staff, user):
    job_submit(owner=user, spec=JobSpec(code="print(1)", engine_type="python", run_type="python"))
    page = staff.get(f"/admin/accounts/user/{user.pk}/change/").content.decode()
    assert f'href="/admin/jobs/job/?owner__id__exact={user.pk}">1 jobs</a>' in page
    assert f'href="/admin/jobs/paijob/?owner__id__exact={user.pk}">0 OpenPAI jobs</a>' in page
    assert f'href="/admin/artifacts/application/?owner__id__exact={user.pk}">0 applications</a>' in page
    listed = staff.get(f"/admin/jobs/job/?owner__id__exact={user.pk}")
    assert listed.status_code == 200 and b"1 job" in listed.content  # the link's filter is allowed
    apps = staff.get(f"/admin/artifacts/application/?owner__id__exact={user.pk}")
    assert apps.status_code == 200 and b"0 applications" in apps.content
    paijobs = staff.get(f"/admin/jobs/paijob/?owner__id__exact={user.pk}")
    assert paijobs.status_code == 200 and b"0 OpenPAI jobs" in paijobs.content


def test_revoking_ends_tokens_sessions_and_personal_api_tokens(staff, user):
    token = services.token_issue(user=user, expiration=3600)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    browser = Client()
    browser.force_login(user)
    ticket = services.linkis_ticket_create(user=user)
    personal, _ = services.api_token_create(name="mine", code="", legal_users=user.username, legal_hosts="*",
                                            is_admin_token=False, expires_at=None, created_by=None)  # fmt: skip
    shared, _ = services.api_token_create(name="shared", code="", legal_users="*", legal_hosts="*",
                                          is_admin_token=False, expires_at=None, created_by=None)  # fmt: skip
    assert Client().get("/api/v1/user/alice/jobs", **auth).status_code == 200
    assert browser.get("/console/jobs/").status_code == 200
    response = staff.post("/admin/accounts/user/", {"action": "revoke_credentials", "_selected_action": [user.pk]},
                          follow=True)  # fmt: skip
    assert b"Revoked the tokens and sessions of alice; 1 API token(s) deactivated." in response.content
    refused = Client().get("/api/rest_j/v1/user/userInfo", **auth)
    assert refused.json()["status"] == -1  # the JWT is revoked
    assert browser.get("/console/jobs/").status_code == 302  # the console session ended
    assert services.linkis_ticket_resolve(ticket=ticket) is None
    assert not ApiToken.objects.get(pk=personal.pk).is_active and ApiToken.objects.get(pk=shared.pk).is_active
    history = staff.get(f"/admin/accounts/user/{user.pk}/history/").content.decode()
    assert "Revoked tokens and sessions (1 API token(s) deactivated)." in history
    # A token issued after the revocation works.
    user.refresh_from_db()  # as a login loads the user
    fresh = services.token_issue(user=user, expiration=3600)
    info = Client().get("/api/rest_j/v1/user/userInfo", HTTP_AUTHORIZATION=f"Bearer {fresh}").json()
    assert info["status"] == 0 and info["data"]["userName"] == "alice"
    assert Job.objects.count() == 0


def test_the_job_list_filters_users_with_a_text_box_and_shows_seconds_and_duration(staff, user):
    job = job_submit(owner=user, spec=JobSpec(code="print(1)", engine_type="python", run_type="python"))
    page = staff.get("/admin/jobs/job/").content.decode()
    assert 'data-testid="user-filter"' in page and '<option value="alice">' in page
    from django.utils import timezone

    assert timezone.localtime(job.created_at).strftime("%Y-%m-%d %H:%M:%S") in page  # to the second
    assert '<th scope="col" class="column-duration">' in page
    assert staff.get("/admin/jobs/job/?submit_user=alice").content.count(b'class="action-select"') == 1
    assert staff.get("/admin/jobs/job/?submit_user=bob").content.count(b'class="action-select"') == 0
