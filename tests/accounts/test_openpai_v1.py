"""OpenPAI ``/api/v1/token`` and ``/api/v1/user`` with v0.7 semantics (contracts/openpai.md A.2, A.4)."""

import jwt
import pytest
from django.conf import settings

from dataplatform.accounts.models import User
from tests.conftest import bearer

pytestmark = pytest.mark.django_db

GUEST = {"code": "UnauthorizedUserError", "message": "Guest is not allowed to do this operation."}
NON_ADMIN = {"code": "ForbiddenUserError", "message": "Non-admin is not allowed to do this operation."}


def test_banner(client):
    response = client.get("/api/v1")
    assert response.status_code == 200
    assert response.content == b"<pre>PAI RESTful API</pre>"


# --- token ------------------------------------------------------------------------------------------------------
def test_token_right_password(api_client, admin_user, password):
    response = api_client.post("/api/v1/token", {"username": "root", "password": password}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["user"] == "root" and body["admin"] is True
    claims = jwt.decode(body["token"], settings.SECRET_KEY, algorithms=["HS256"])
    assert claims["username"] == "root" and claims["admin"] is True


def test_token_form_urlencoded(client, user, password):
    response = client.post(
        "/api/v1/token", f"username=alice&password={password}&expiration=600", "application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    claims = jwt.decode(response.json()["token"], settings.SECRET_KEY, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == 600


def test_token_wrong_password(api_client, user):
    response = api_client.post("/api/v1/token", {"username": "alice", "password": "wrong-pass"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"code": "IncorrectPasswordError", "message": "Password is incorrect."}


def test_token_unknown_user(api_client, db):
    response = api_client.post("/api/v1/token", {"username": "ghost", "password": "whatever"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"code": "NoUserError", "message": "User ghost is not found."}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"username": "alice"}, 'child "password" fails because ["password" is required]'),
        (
            {"username": "alice", "password": "short"},
            'child "password" fails because ["password" length must be at least 6 characters long]',
        ),
        (
            {"username": "a-b", "password": "long-enough"},
            'child "username" fails because ["username" must only contain alpha-numeric and underscore characters]',
        ),
        (
            {"username": "alice", "password": "long-enough", "expiration": "soon"},
            'child "expiration" fails because ["expiration" must be a number]',
        ),
    ],
)
def test_token_invalid_parameters(api_client, user, body, message):
    response = api_client.post("/api/v1/token", body, format="json")
    assert response.status_code == 400
    assert response.json() == {"code": "InvalidParametersError", "message": message}


def test_token_get_is_no_api(client):
    response = client.get("/api/v1/token")
    assert response.status_code == 404
    assert response.json() == {"code": "NoApiError", "message": "API /api/v1/token is not found."}


# --- user: create / update --------------------------------------------------------------------------------------
def test_admin_creates_plain_user_201(api_client, admin_user):
    body = {"username": "carol", "password": "carol-pass", "modify": False}
    response = api_client.put("/api/v1/user", body, format="json", **bearer(admin_user))
    assert response.status_code == 201
    assert response.json() == {"message": "update successfully"}
    assert User.objects.get(username="carol").check_password("carol-pass")


def test_admin_creates_admin_201(api_client, admin_user):
    body = {"username": "dave", "password": "dave-pass", "modify": False, "admin": True}
    assert api_client.put("/api/v1/user", body, format="json", **bearer(admin_user)).status_code == 201
    assert User.objects.get(username="dave").is_admin


def test_create_with_modify_true_is_404_no_user(api_client, admin_user):
    body = {"username": "carol", "password": "carol-pass", "modify": True}
    response = api_client.put("/api/v1/user", body, format="json", **bearer(admin_user))
    assert response.status_code == 404
    assert response.json() == {"code": "NoUserError", "message": "User carol not found."}


def test_create_existing_is_409_conflict(api_client, admin_user, user):
    body = {"username": "alice", "password": "carol-pass", "modify": False}
    response = api_client.put("/api/v1/user", body, format="json", **bearer(admin_user))
    assert response.status_code == 409
    assert response.json() == {"code": "ConflictUserError", "message": "User name alice already exists."}


def test_non_admin_creating_is_403(api_client, user):
    body = {"username": "carol", "password": "carol-pass", "modify": False}
    response = api_client.put("/api/v1/user", body, format="json", **bearer(user))
    assert response.status_code == 403
    assert response.json() == NON_ADMIN
    assert not User.objects.filter(username="carol").exists()


def test_user_changes_own_password_201(api_client, user):
    body = {"username": "alice", "password": "brand-new", "modify": True}
    assert api_client.put("/api/v1/user", body, format="json", **bearer(user)).status_code == 201
    user.refresh_from_db()
    assert user.check_password("brand-new")


def test_user_cannot_make_self_admin(api_client, user):
    body = {"username": "alice", "password": "brand-new", "modify": True, "admin": True}
    response = api_client.put("/api/v1/user", body, format="json", **bearer(user))
    assert response.status_code == 403
    user.refresh_from_db()
    assert not user.is_admin and not user.check_password("brand-new")


def test_user_cannot_change_other_password(api_client, user, other_user):
    body = {"username": "bob", "password": "brand-new", "modify": True}
    assert api_client.put("/api/v1/user", body, format="json", **bearer(user)).status_code == 403


def test_admin_sets_admin_false_201(api_client, admin_user, user):
    User.objects.filter(pk=user.pk).update(is_superuser=True, is_staff=True)
    body = {"username": "alice", "password": "brand-new", "modify": True, "admin": False}
    assert api_client.put("/api/v1/user", body, format="json", **bearer(admin_user)).status_code == 201
    user.refresh_from_db()
    assert not user.is_admin


def test_null_password_is_400(api_client, admin_user, user):
    body = {"username": "alice", "password": None, "modify": True}
    response = api_client.put("/api/v1/user", body, format="json", **bearer(admin_user))
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParametersError"


def test_missing_modify_is_400(api_client, admin_user):
    body = {"username": "alice", "password": "brand-new"}
    response = api_client.put("/api/v1/user", body, format="json", **bearer(admin_user))
    assert response.status_code == 400
    assert response.json() == {
        "code": "InvalidParametersError",
        "message": 'child "modify" fails because ["modify" is required]',
    }


def test_user_put_without_token_is_401(api_client, db):
    body = {"username": "alice", "password": "brand-new", "modify": True}
    response = api_client.put("/api/v1/user", body, format="json")
    assert response.status_code == 401
    assert response.json() == GUEST


def test_user_put_with_invalid_token_is_401(api_client, db):
    response = api_client.put("/api/v1/user", {}, format="json", HTTP_AUTHORIZATION="Bearer abc.def.ghi")
    assert response.status_code == 401
    assert response.json() == GUEST


# --- user: delete and list --------------------------------------------------------------------------------------
def test_admin_deletes_user_200(api_client, admin_user, user):
    response = api_client.delete("/api/v1/user", {"username": "alice"}, format="json", **bearer(admin_user))
    assert response.status_code == 200
    assert response.json() == {"message": "remove successfully"}
    assert not User.objects.filter(username="alice").exists()


def test_delete_admin_is_403_remove_admin(api_client, admin_user):
    User.objects.create_user("boss", password="boss-pass", is_superuser=True, is_staff=True)
    response = api_client.delete("/api/v1/user", {"username": "boss"}, format="json", **bearer(admin_user))
    assert response.status_code == 403
    assert response.json() == {"code": "RemoveAdminError", "message": "Admin boss is not allowed to remove."}
    assert User.objects.filter(username="boss").exists()


def test_delete_unknown_is_404(api_client, admin_user):
    response = api_client.delete("/api/v1/user", {"username": "ghost"}, format="json", **bearer(admin_user))
    assert response.status_code == 404
    assert response.json() == {"code": "NoUserError", "message": "User ghost not found."}


def test_non_admin_delete_is_403(api_client, user, other_user):
    response = api_client.delete("/api/v1/user", {"username": "bob"}, format="json", **bearer(user))
    assert response.status_code == 403
    assert response.json() == NON_ADMIN
    assert User.objects.filter(username="bob").exists()


def test_admin_lists_users(api_client, admin_user, user):
    response = api_client.get("/api/v1/user", **bearer(admin_user))
    assert response.status_code == 200
    assert response.json() == [
        {"username": "root", "admin": True, "virtualCluster": "default"},
        {"username": "alice", "admin": False, "virtualCluster": "default"},
    ]


def test_non_admin_list_is_403(api_client, user):
    response = api_client.get("/api/v1/user", **bearer(user))
    assert response.status_code == 403
    assert response.json() == NON_ADMIN


# --- virtual clusters -------------------------------------------------------------------------------------------
def test_admin_sets_virtual_clusters_201(api_client, admin_user, user, settings):
    settings.OPENPAI_VIRTUAL_CLUSTERS = ["default", "vc1"]
    url = "/api/v1/user/alice/virtualClusters"
    response = api_client.put(url, {"virtualClusters": "default,vc1"}, format="json", **bearer(admin_user))
    assert response.status_code == 201
    assert response.json() == {"message": "update user virtual clusters successfully"}
    user.refresh_from_db()
    assert user.virtual_clusters == "default,vc1"


def test_unknown_virtual_cluster_is_400(api_client, admin_user, user):
    url = "/api/v1/user/alice/virtualClusters"
    response = api_client.put(url, {"virtualClusters": "nope"}, format="json", **bearer(admin_user))
    assert response.status_code == 400
    assert response.json() == {"code": "NoVirtualClusterError", "message": "Virtual cluster nope is not found."}
    user.refresh_from_db()
    assert user.virtual_clusters == "default"


def test_virtual_clusters_unknown_user_404_and_non_admin_403(api_client, admin_user, user):
    url = "/api/v1/user/ghost/virtualClusters"
    assert api_client.put(url, {"virtualClusters": ""}, format="json", **bearer(admin_user)).status_code == 404
    url = "/api/v1/user/alice/virtualClusters"
    assert api_client.put(url, {"virtualClusters": ""}, format="json", **bearer(user)).status_code == 403
