"""``console_nav``: the console's navigation, with the current page marked."""

from django.urls import reverse

NAV = (
    ("console:jobs", "Jobs"),
    ("console:openpai", "OpenPAI jobs"),
    ("console:features", "Feature store"),
    ("console:artifacts", "Artifacts"),
)


def console_nav(request):
    """The console's navigation on its pages and on the error pages (which use its layout), current page marked."""
    if request.path.startswith(("/admin/", "/api/")):
        return {}
    items = []
    for name, label in NAV:
        url = reverse(name)
        items.append({"url": url, "label": label, "current": request.path.startswith(url)})
    return {"console_nav": items}
