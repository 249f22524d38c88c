"""The request path keeps what it checked of a bearer token (``dataplatform.api.authentication``): the token until it
expires, its user's row for ``JWT_USER_CACHE_SECONDS``; a change of the user holds at the next request all the same."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dataplatform.accounts import services
from tests.conftest import UserFactory

pytestmark = pytest.mark.django_db

USER_INFO = "/api/rest_j/v1/user/userInfo"


def user_reads(client, token) -> tuple[int, int]:
    """(HTTP status, how many queries read the user table) of one authenticated request."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(USER_INFO, HTTP_AUTHORIZATION=f"Bearer {token}")
    reads = sum(1 for query in queries.captured_queries if 'FROM "accounts_user"' in query["sql"])
    return response.status_code, reads


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


def test_the_users_row_is_read_once_per_second_not_per_request(client, alice):
    token = services.token_issue(user=alice, expiration=3600)
    assert user_reads(client, token) == (200, 1)
    assert user_reads(client, token) == (200, 0)
    assert user_reads(client, token) == (200, 0)


def test_without_the_cache_every_request_reads_the_user(client, alice, settings):
    settings.JWT_USER_CACHE_SECONDS = 0
    token = services.token_issue(user=alice, expiration=3600)
    assert user_reads(client, token) == (200, 1)
    assert user_reads(client, token) == (200, 1)


def test_a_deactivated_user_is_refused_at_the_next_request(client, alice):
    token = services.token_issue(user=alice, expiration=3600)
    assert user_reads(client, token)[0] == 200
    alice.is_active = False
    alice.save()
    response = client.get(USER_INFO, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.json()["status"] == -1


def test_a_password_change_or_a_revoke_is_refused_at_the_next_request(client, alice):
    token = services.token_issue(user=alice, expiration=3600)
    assert user_reads(client, token)[0] == 200
    alice.set_password("an-entirely-new-password-7")
    alice.save()
    assert client.get(USER_INFO, HTTP_AUTHORIZATION=f"Bearer {token}").json()["status"] == -1

    alice.refresh_from_db()
    fresh = services.token_issue(user=alice, expiration=3600)
    assert user_reads(client, fresh)[0] == 200
    services.credentials_revoke(user=alice)  # a queryset update: no save signal
    assert client.get(USER_INFO, HTTP_AUTHORIZATION=f"Bearer {fresh}").json()["status"] == -1


def test_a_stale_cached_row_never_refuses_a_good_token(client, alice):
    """A row changed behind the cache's back (another process): a token it would refuse is checked against the
    database before it is refused."""
    old = services.token_issue(user=alice, expiration=3600)
    assert user_reads(client, old)[0] == 200  # cached: epoch 0
    type(alice).objects.filter(pk=alice.pk).update(credentials_epoch=5)  # no signal: the cache does not know
    alice.refresh_from_db()
    new = services.token_issue(user=alice, expiration=3600)  # epoch 5
    assert user_reads(client, new) == (200, 1)  # the cached row said no; the database said yes
    assert client.get(USER_INFO, HTTP_AUTHORIZATION=f"Bearer {old}").json()["status"] == -1


def test_each_request_gets_its_own_copy_of_the_cached_user(alice):
    from dataplatform.api.authentication import _own_copy

    alice.first_name = "Alice"
    alice._perm_cache = {"x"}
    copied = _own_copy(alice)
    assert copied is not alice and copied.pk == alice.pk and copied.first_name == "Alice"
    assert copied._state is not alice._state and copied._state.db == alice._state.db
    assert copied._state.fields_cache is not alice._state.fields_cache
    copied.first_name = "Mallory"
    copied._perm_cache = set()
    assert alice.first_name == "Alice" and alice._perm_cache == {"x"}


def test_the_polled_job_reads_read_one_job_row_and_nothing_more(client, alice):
    """Status, progress and log read only the job's state (``STATE_FIELDS``): no field they show is read later."""
    from jobs.linkis.views import Job
    from jobs.services import JobSpec, job_submit

    job = job_submit(owner=alice, spec=JobSpec(code="print(1)", engine_type="python-python3", run_type="python"))
    token = services.token_issue(user=alice, expiration=3600)
    base = f"/api/rest_j/v1/entrance/{job.exec_id}"
    for path in ("status", "progress", "progressWithResource", "log?fromLine=1&size=10"):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"{base}/{path}", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 200 and response.json()["status"] == 0, response.content
        job_reads = [q["sql"] for q in queries.captured_queries if '"jobs_job"' in q["sql"]]
        assert len(job_reads) == 1 and '"code"' not in job_reads[0], (path, job_reads)
        # The job, and for the log its lines; the user's row may be read again (it is cached for a second only).
        others = [q["sql"] for q in queries.captured_queries if '"accounts_user"' not in q["sql"]]
        assert len(others) == (2 if path.startswith("log") else 1), others
    assert Job.objects.get(pk=job.pk).code == "print(1)"
