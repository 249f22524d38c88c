"""``/api/schema/`` describes every route the project serves; ``/api/docs/`` needs no outside asset."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

NOT_API = ("admin/", "api/schema/", "api/docs/", "static/")


def _routes(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def _api_routes():
    for route, pattern in _routes(get_resolver().url_patterns):
        if route.startswith(NOT_API) or route in ("",) or pattern.callback.__name__ == "route_not_found":
            continue
        if not hasattr(pattern.callback, "cls"):
            continue  # template pages
        yield "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


def test_schema_lists_every_api_route(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = set(response.json()["paths"])
    routes = set(_api_routes())
    assert routes, "no API routes found"
    assert routes - paths == set()
    assert {"/api/auth", "/api/v1/token", "/api/rest_j/v1/user/login", "/healthz"} <= paths


def test_schema_as_yaml_by_default(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200 and response.content.startswith(b"openapi: 3")


def test_swagger_ui_assets_are_served_locally(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(not asset.startswith(("http:", "https:", "//")) for asset in assets)
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
