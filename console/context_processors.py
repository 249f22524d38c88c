"""``console_nav``: the console's navigation, with the current page marked."""

from django.urls import reverse

NAV = (
    ("console:jobs", "Jobs"),
    ("console:openpai", "OpenPAI jobs"),
    ("console:features", "Feature store"),
    ("console:artifacts", "Artifacts"),
)


def console_nav(request):
    if not request.path.startswith("/console/"):
        return {}
    items = []
    for name, label in NAV:
        url = reverse(name)
        items.append({"url": url, "label": label, "current": request.path.startswith(url)})
    return {"console_nav": items}
