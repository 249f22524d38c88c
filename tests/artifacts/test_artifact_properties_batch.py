"""``POST /v3/namespaces/{ns}/artifactproperties``: the properties of several artifacts at once (a version or a range
each, picked keys or all), unknown artifacts skipped as upstream; items of the wrong shape are a 400, never a 500."""

import json

import pytest

from artifacts.models import Namespace
from tests.artifacts.factories import manifest, zip_bytes
from tests.conftest import bearer

pytestmark = pytest.mark.django_db
URL = "/v3/namespaces/default/artifactproperties"


@pytest.fixture
def artifacts(client, user):
    Namespace.objects.get_or_create(name="default", defaults={"description": "Default Namespace"})
    for version in ("1.0.0", "2.0.0"):
        response = client.post("/v3/namespaces/default/artifacts/myapp", data=zip_bytes(manifest("myapp", version)),
                               content_type="application/octet-stream", **bearer(user))  # fmt: skip
        assert response.status_code == 200, response.content
        response = client.put(f"/v3/namespaces/default/artifacts/myapp/versions/{version}/properties",
                              data=json.dumps({"team": "ml", "tier": version[0]}), content_type="application/json",
                              **bearer(user))  # fmt: skip
        assert response.status_code == 200, response.content


def post(client, user, body):
    return client.post(URL, data=json.dumps(body), content_type="application/json", **bearer(user))


def test_properties_of_several_artifacts_with_picked_keys_and_unknown_ones_skipped(client, user, artifacts):
    body = [
        {"name": "myapp", "version": "1.0.0", "scope": "user", "properties": ["tier"]},
        {"name": "myapp", "version": "2.0.0"},
        {"name": "ghost", "version": "1.0.0"},
    ]
    response = post(client, user, body)
    assert response.status_code == 200
    assert response.json() == [
        {"name": "myapp", "version": "1.0.0", "scope": "USER", "properties": {"tier": "1"}},
        {"name": "myapp", "version": "2.0.0", "scope": "USER", "properties": {"team": "ml", "tier": "2"}},
    ]


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        ({"name": "myapp", "version": "1.0.0", "scope": 7}, "'scope' of artifact 'myapp' must be a string"),
        ({"name": "myapp", "version": ["1.0.0"]}, "'version' of artifact 'myapp' must be a string"),
        ({"name": "myapp", "version": "1.0.0", "properties": "tier"}, "'properties' of artifact"),
        ({"name": "myapp", "version": "1.0.0", "properties": [1]}, "'properties' of artifact 'myapp' must be a list"),
        ({"version": "1.0.0"}, "each item needs a name"),
    ],
)
def test_items_of_the_wrong_shape_are_a_400(client, user, artifacts, item, fragment):
    response = post(client, user, [item])
    assert response.status_code == 400 and fragment in response.content.decode()


def test_a_body_that_is_not_a_list_is_a_400(client, user, artifacts):
    response = post(client, user, {"name": "myapp"})
    assert response.status_code == 400 and "expected a JSON array" in response.content.decode()
