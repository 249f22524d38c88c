"""Content negotiation: API views always answer in their own format; error pages only for clients that ask for HTML.

A wire contract fixes the response format; a client sending ``Accept: text/html`` (a browser) or nothing at
all still gets the family's JSON (or text), never a 406.
"""

from rest_framework.negotiation import DefaultContentNegotiation


class FirstRendererNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = renderers[0]
        return renderer, renderer.media_type


HTML_MEDIA_TYPES = ("text/html", "application/xhtml+xml")


def accepts_html(request) -> bool:
    """Whether the client asked for HTML by name, as browsers do; ``*/*`` (curl, requests) and no Accept do not."""
    for item in request.headers.get("Accept", "").split(","):
        media, *params = (part.strip().lower() for part in item.split(";"))
        if media not in HTML_MEDIA_TYPES:
            continue
        quality = next((param.partition("=")[2].strip() for param in params if param.startswith("q=")), "1")
        try:
            if float(quality) > 0:
                return True
        except ValueError:
            return True  # a malformed weight is ignored, as Django's own Accept parsing does
    return False
