"""Content negotiation that always answers in the view's own format.

A wire contract fixes the response format; a client sending ``Accept: text/html`` (a browser) or nothing at
all still gets the family's JSON (or text), never a 406.
"""

from rest_framework.negotiation import DefaultContentNegotiation


class FirstRendererNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = renderers[0]
        return renderer, renderer.media_type
