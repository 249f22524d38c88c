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
