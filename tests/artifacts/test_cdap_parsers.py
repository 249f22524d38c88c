"""The CDAP wire package against the domain below it: what the OpenAPI document says a body looks like is what
its parser takes, page tokens carry selector positions, and services and selectors know nothing of HTTP."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import jsonschema
import pytest

from artifacts import selectors, services
from artifacts.cdap import pages, parsers
from artifacts.models import Namespace
from dataplatform.api.exceptions import InvalidInputError, NotFoundError

pytestmark = pytest.mark.django_db

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


# --- the OpenAPI document and the parsers share one description ---------------------------------------------
def _accepts_namespace_meta(example):
    data = parsers.namespace_meta(json.dumps(example).encode())
    assert isinstance(data.get("description", ""), str)


def _accepts_app_request(example):
    ref, config, given = parsers.app_request(example)
    assert ref is not None and given and isinstance(config, dict)


def _accepts_runtime_args(example):
    value = parsers.runtime_args(json.dumps(example).encode())
    assert services.programs._runtime_args(value)


def _accepts_properties(example):
    value = parsers.properties(json.dumps(example).encode())
    assert isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _accepts_plugins(example):
    from artifacts.archives import plugins_from_data

    assert plugins_from_data(parsers.plugins(json.dumps(example).encode()), where="plugins")


def _accepts_program_status(example):
    assert parsers.program_status_requests(example) == example


def _accepts_artifact_properties(example):
    refs = list(parsers.artifact_property_requests(example))
    assert [(ref.name, ref.version, keys) for ref, keys in refs] == [("myapp", "[1.0.0,2.0.0)", ["team"])]


BODIES = {
    "NAMESPACE_META_BODY": _accepts_namespace_meta,
    "APP_REQUEST_BODY": _accepts_app_request,
    "RUNTIME_ARGS_BODY": _accepts_runtime_args,
    "PROPERTIES_BODY": _accepts_properties,
    "PLUGINS_BODY": _accepts_plugins,
    "PROGRAM_STATUS_BODY": _accepts_program_status,
    "ARTIFACT_PROPERTIES_BODY": _accepts_artifact_properties,
}


@pytest.mark.parametrize("name", sorted(BODIES))
def test_documented_example_fits_its_schema_and_gets_through_its_parser(name):
    schema = getattr(parsers, name)
    jsonschema.validate(schema["example"], schema)
    BODIES[name](schema["example"])


def _json_bodies(document: dict) -> list[dict]:
    found = []
    for path, operations in document["paths"].items():
        if path.startswith(("/v3/namespaces", "/namespaces")):
            for operation in operations.values():
                content = operation.get("requestBody", {}).get("content", {}) if isinstance(operation, dict) else {}
                if "application/json" in content:
                    found.append(content["application/json"]["schema"])
    return found


def test_the_openapi_document_describes_cdap_bodies_with_the_parsers_schemas(admin_client):
    response = admin_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    served = _json_bodies(response.json())
    described = [getattr(parsers, name) for name in BODIES]
    assert served and all(body in described for body in served)
    assert all(body in served for body in described)


@pytest.mark.parametrize("key", parsers.PROGRAM_STATUS_KEYS)
def test_program_status_parser_requires_what_the_schema_requires(key):
    item = dict(parsers.PROGRAM_STATUS_BODY["example"][0])
    del item[key]
    with pytest.raises(InvalidInputError, match=f"'{key}' must be specified"):
        parsers.program_status_requests([item])


def test_app_request_parser_takes_the_documented_scopes_only():
    enum = parsers.ARTIFACT_REF["oneOf"][0]["properties"]["scope"]["enum"]
    for scope in enum:
        assert parsers.artifact_ref({"name": "a", "scope": scope.lower()}).scope == scope
    with pytest.raises(InvalidInputError, match="Invalid scope other"):
        parsers.artifact_ref({"name": "a", "scope": "other"})


# --- page tokens ---------------------------------------------------------------------------------------------
def test_page_tokens_carry_selector_positions():
    token = pages.encode_page_token("1", "myapp", "0a1b")
    assert pages.summaries_after(token) == (1, "myapp", "0a1b")
    assert pages.versions_after(pages.encode_page_token("0a1b")) == ("0a1b",)
    assert pages.summaries_after(None) is None and pages.versions_after("") is None


@pytest.mark.parametrize("values", [("01", "a", "0a"), ("x", "a", "0a"), ("1", "", "0a"), ("1", "a", "zz")])
def test_page_tokens_this_module_did_not_make_are_400(values):
    token = pages.encode_page_token(*values)
    with pytest.raises(InvalidInputError, match=f"Invalid pageToken '{token}'"):
        pages.summaries_after(token)


def test_a_position_the_listing_does_not_walk_is_an_invalid_token():
    namespace = Namespace.objects.get_or_create(name="default")[0]
    token = pages.encode_page_token("7", "a", "0a")
    with pytest.raises(InvalidInputError, match=f"Invalid pageToken '{token}'"), pages.token_errors(token):
        selectors.artifact_summaries(namespace=namespace, scope=None, limit=1, after=pages.summaries_after(token))


# --- one convention for lookups ------------------------------------------------------------------------------
def test_get_returns_none_and_get_or_error_raises_cdaps_404():
    namespace = Namespace.objects.get_or_create(name="default")[0]
    assert selectors.namespace_get(name="nope") is None
    with pytest.raises(NotFoundError, match="'namespace:nope' was not found."):
        selectors.namespace_get_or_error(name="nope")
    assert selectors.application_get(namespace=namespace, name="nope") is None
    with pytest.raises(NotFoundError, match="'application:default.nope.-SNAPSHOT' was not found."):
        selectors.application_get_or_error(namespace=namespace, name="nope")
    lookup = {"namespace": namespace, "name": "nope", "version": "1.0.0", "scope": None}
    assert selectors.artifact_version_get(**lookup) is None
    with pytest.raises(NotFoundError, match="'artifact:default.nope.1.0.0' was not found."):
        selectors.artifact_version_get_or_error(**lookup)


# --- the domain below the wire ---------------------------------------------------------------------------------
DOMAIN = [ARTIFACTS / "selectors.py", *sorted((ARTIFACTS / "services").glob("*.py"))]


@pytest.mark.parametrize("path", DOMAIN, ids=lambda path: path.relative_to(ARTIFACTS).as_posix())
def test_services_and_selectors_import_no_wire(path):
    tree = ast.parse(path.read_text())
    modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    modules |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    wire = {m for m in modules if m and m.startswith(("rest_framework", "drf_spectacular", "artifacts.cdap"))}
    assert wire == set()
    assert "dataplatform.api.request" not in modules  # request bodies are parsed by the wire
