"""What every app's admin shares: the read-only mixin.

Much of the platform's data changes only through its services (an artifact version is immutable, a job moves by
its runner, a feature table changes through SQL): staff read it in the admin and act on it through admin actions
and pages that call those services. One mixin says so instead of a ``return False`` per model admin.
"""

from __future__ import annotations


class ReadOnlyAdminMixin:
    """Refuse the admin's own add, change and delete, except where a subclass allows one.

    - ``admin_add`` / ``admin_delete``: allow the admin's add form / delete views (checked by Django's permissions);
    - ``admin_change``: ``"yes"`` allows the change form; ``"view"`` (the default) shows the change page read-only,
      as a GET, so that the page's own buttons (which call services through views of their own) stay reachable,
      while a POST of the form is refused; ``"no"`` allows neither.
    """

    admin_add = False
    admin_delete = False
    admin_change = "view"

    def has_add_permission(self, request, obj=None):
        return self.admin_add and super().has_add_permission(request, *([obj] if obj is not None else []))

    def has_change_permission(self, request, obj=None):
        if self.admin_change == "yes":
            return super().has_change_permission(request, obj)
        if self.admin_change == "view":
            return request.method == "GET" and super().has_view_permission(request, obj)
        return False

    def has_delete_permission(self, request, obj=None):
        return self.admin_delete and super().has_delete_permission(request, obj)
