"""``dataplatform.routes.CachedResolveMixin``: recent paths' URL matches kept, each request its own copy."""

import pytest
from django.test import RequestFactory
from django.urls import Resolver404, resolve

from dataplatform.routes import CachedResolveMixin, _resolve


@pytest.fixture
def handler():
    _resolve.cache_clear()
    yield CachedResolveMixin()
    _resolve.cache_clear()


def test_a_path_resolves_as_django_resolves_it_and_is_kept(handler):
    path = "/api/rest_j/v1/entrance/exec_id018abc/status"
    request = RequestFactory().get(path)
    match = handler.resolve_request(request)
    expected = resolve(path)
    assert (match.func, match.args, match.kwargs, match.url_name, match.route) == (
        expected.func,
        expected.args,
        expected.kwargs,
        expected.url_name,
        expected.route,
    )
    assert request.resolver_match is match
    again = handler.resolve_request(RequestFactory().get(path))
    assert _resolve.cache_info().hits == 1
    assert again is not match and again.kwargs == match.kwargs and again.kwargs is not match.kwargs


def test_a_view_changing_its_kwargs_does_not_change_the_next_requests(handler):
    path = "/v3/namespaces/default/apps/bench"
    first = handler.resolve_request(RequestFactory().get(path))
    first.kwargs["app"] = "changed"
    second = handler.resolve_request(RequestFactory().get(path))
    assert second.kwargs["app"] == "bench"


def test_a_path_that_matches_nothing_is_not_kept(handler):
    with pytest.raises(Resolver404):
        handler.resolve_request(RequestFactory().get("/no/such/route"))
    assert _resolve.cache_info().currsize == 0


def test_a_changed_urlconf_setting_drops_what_was_kept(handler, settings):
    handler.resolve_request(RequestFactory().get("/healthz"))
    assert _resolve.cache_info().currsize == 1
    settings.ROOT_URLCONF = "tests.api.urls"
    assert _resolve.cache_info().currsize == 0
