"""What every app's admin shares: the read-only mixin.

Much of the platform's data changes only through its services (an artifact version is immutable, a job moves by
its runner, a feature table changes through SQL): staff read it in the admin and act on it through admin actions
and pages that call those services. One mixin says so instead of a ``return False`` per model admin.
"""

from __future__ import annotations

from django.contrib.admin.utils import NestedObjects, quote
from django.db import router
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.text import capfirst


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

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if self.admin_change == "view":
            # The page is read-only: no Save buttons (a POST of the form is refused); Delete stays if allowed.
            extra_context = {**(extra_context or {}), "show_save": False, "show_save_and_continue": False,
                             "show_save_and_add_another": False}  # fmt: skip
        return super().change_view(request, object_id, form_url, extra_context)

    def get_deleted_objects(self, objs, request):
        """What deleting ``objs`` deletes, summarised: each object, then a count per kind of related object (Django
        lists every related object, e.g. each of a job's 30,000 log lines, on one page)."""
        collector = NestedObjects(using=router.db_for_write(self.model))
        collector.collect(objs)
        perms_needed = set()
        model_count = {}
        summary: list = []
        for model, found in collector.model_objs.items():
            opts = model._meta
            model_count[opts.verbose_name_plural] = len(found)
            model_admin = self.admin_site._registry.get(model)
            if model_admin is not None and not model_admin.has_delete_permission(request):
                perms_needed.add(opts.verbose_name)
            if model is not self.model:
                summary.append(f"{len(found)} {opts.verbose_name if len(found) == 1 else opts.verbose_name_plural}")
        deleted = [self._deleted_object_text(request, obj) for obj in objs]
        if summary:
            deleted.append(summary)  # a nested list: shown under the objects as one indented list
        protected = [self._deleted_object_text(request, obj) for obj in collector.protected]
        return deleted, model_count, perms_needed, protected

    def _deleted_object_text(self, request, obj) -> str:
        """``Kind: object``, linked to its admin page where the user may see it (as Django's own list)."""
        opts = obj._meta
        model_admin = self.admin_site._registry.get(type(obj))
        if model_admin is not None and model_admin.has_view_or_change_permission(request, obj):
            try:
                url = reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change", args=[quote(obj.pk)])
            except NoReverseMatch:
                pass
            else:
                return format_html('{}: <a href="{}">{}</a>', capfirst(opts.verbose_name), url, obj)
        return format_html("{}: {}", capfirst(opts.verbose_name), obj)
