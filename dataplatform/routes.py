"""URL resolving: includes tried only for their own paths, and the matches of recent paths kept."""

import functools

from django.conf import settings
from django.core.signals import setting_changed
from django.urls import URLResolver, get_resolver, set_urlconf
from django.urls.resolvers import ResolverMatch, RoutePattern


class PrefixPattern(RoutePattern):
    """``path("", include(...))``'s pattern, matching only paths that start with one of ``prefixes``.

    It consumes nothing, so the included patterns see the whole path, and it is the empty route to everything that
    reads patterns (reversing, the API schema).
    """

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__("", is_endpoint=False)
        self.prefixes = prefixes

    def match(self, path):
        return (path, (), {}) if path.startswith(self.prefixes) else None


def family(prefixes: tuple[str, ...], urlconf: str) -> URLResolver:
    """A family's routes, tried only for paths under its prefixes.

    An include at ``""`` is tried for every path, and each miss in it costs Django a list of every pattern it tried
    (for its debug 404 page): up to a tenth of a millisecond per request for the families listed after the first.
    """
    return URLResolver(PrefixPattern(prefixes), urlconf)


@functools.lru_cache(maxsize=4096)
def _resolve(urlconf: str, path: str) -> ResolverMatch:
    return get_resolver(urlconf).resolve(path)  # a miss raises Resolver404, which is not kept


def _forget_matches(*, setting, **kwargs) -> None:
    if setting == "ROOT_URLCONF":
        _resolve.cache_clear()


setting_changed.connect(_forget_matches)


class CachedResolveMixin:
    """A request handler's ``resolve_request`` keeping the matches of the 4,096 latest paths.

    Clients poll the same paths (a job's status, an application's detail) over and over, and matching a path against
    the URL patterns, then building its ``ResolverMatch``, is a tenth of a read's time. Each request gets its own
    copy of the match (its own ``kwargs``); a path that matches nothing is resolved again every time.
    """

    def resolve_request(self, request):
        urlconf = getattr(request, "urlconf", None)
        if urlconf is not None:
            set_urlconf(urlconf)
        kept = _resolve(urlconf or settings.ROOT_URLCONF, request.path_info)
        match = ResolverMatch.__new__(ResolverMatch)  # a shallow copy (copy.copy refuses: it cannot be pickled)
        match.__dict__.update(kept.__dict__)
        match.kwargs = dict(match.kwargs)
        if match.captured_kwargs is not None:
            match.captured_kwargs = dict(match.captured_kwargs)
        request.resolver_match = match
        return match
