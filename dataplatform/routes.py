"""URL includes that are tried only for their own paths."""

from django.urls import URLResolver
from django.urls.resolvers import RoutePattern


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
