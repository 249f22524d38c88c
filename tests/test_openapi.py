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


def _schema(client) -> dict:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "delete", "patch", "head", "options"):
                yield path, method, operation


def test_the_document_is_valid_openapi(client):
    from openapi_spec_validator import OpenAPIV30SpecValidator

    errors = [str(error).splitlines()[0] for error in OpenAPIV30SpecValidator(_schema(client)).iter_errors()]
    assert errors == []


def test_one_tag_per_family_and_a_summary_per_operation(client):
    schema = _schema(client)
    families = {"Linkis", "OpenPAI", "CDAP", "OpenMLDB", "Platform"}
    assert {tag["name"] for tag in schema["tags"]} == families
    expected = {"/api/rest_j/": "Linkis", "/api/": "OpenPAI", "/v3/": "CDAP", "/namespaces": "CDAP", "/dbs": "OpenMLDB"}
    for path, method, operation in _operations(schema):
        assert len(operation["tags"]) == 1 and operation["tags"][0] in families, (path, method, operation["tags"])
        family = next((tag for prefix, tag in expected.items() if path.startswith(prefix)), None)
        if family is not None:
            assert operation["tags"] == [family], (path, method)
        summary = operation.get("summary", "")
        assert summary and not summary.startswith(f"{method.upper()} {path}"), (path, method, summary)
    linkis_status = schema["paths"]["/api/rest_j/v1/entrance/{ident}/status"]["get"]
    assert [p["name"] for p in linkis_status["parameters"] if p["in"] == "path"] == ["ident"]  # no stray {id}


def test_uploads_have_a_request_body(client):
    schema = _schema(client)
    for path in ("/v3/namespaces/{ns}/artifacts/{name}", "/v3/namespaces/{ns}/apps"):
        content = schema["paths"][path]["post"]["requestBody"]["content"]
        assert content["application/octet-stream"]["schema"] == {"type": "string", "format": "binary"}
