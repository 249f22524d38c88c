"""Admin for users (active, admin flag, password reset) and API tokens; the admin login is throttled too."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.http import urlencode

from artifacts.selectors import application_count_for_owner
from dataplatform.accounts import services
from dataplatform.accounts.forms import ThrottledAuthenticationMixin
from dataplatform.accounts.models import ApiToken, User, hash_token_code
from dataplatform.accounts.selectors import personal_api_tokens as _personal_tokens
from jobs.admin import EngineRightsFormMixin, save_engine_rights
from jobs.selectors import owned_job_counts


class ThrottledAdminAuthenticationForm(ThrottledAuthenticationMixin, AdminAuthenticationForm):
    """The admin login form, checked by the same service (and failure throttle) as every API login."""


admin.site.login_form = ThrottledAdminAuthenticationForm
admin.site.site_header = "Data platform administration"
admin.site.site_title = "Data platform admin"


class UserChangeForm(EngineRightsFormMixin, DjangoUserAdmin.form):
    pass


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeForm
    list_display = ("username", "is_active", "is_superuser", "is_staff", "date_joined", "last_login")
    list_filter = ("is_active", "is_superuser", "is_staff")
    search_fields = ("username", "email", "first_name", "last_name")
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Their work", {"fields": ("related_links",)}),
        ("Jobs", {"fields": ("engines",)}),
        ("OpenPAI", {"fields": ("virtual_clusters",)}),
    )
    readonly_fields = ("related_links",)
    actions = ["revoke_credentials"]

    @admin.display(description="jobs, tokens, apps")
    def related_links(self, user: User) -> str:
        """Links to what the user owns, each a filtered admin list with its count."""
        if user.pk is None:
            return "—"
        jobs, pai_jobs = owned_job_counts(user)
        links = [
            ("jobs:job", {"owner__id__exact": user.pk}, jobs, "jobs"),
            ("jobs:paijob", {"owner__id__exact": user.pk}, pai_jobs, "OpenPAI jobs"),
            ("artifacts:application", {"owner__id__exact": user.pk}, application_count_for_owner(user), "applications"),
            ("accounts:apitoken", {"q": user.username}, _personal_tokens(user).count(), "API tokens naming them"),
        ]  # fmt: skip
        items = []
        for model, query, count, label in links:
            app_label, model_name = model.split(":")
            url = reverse(f"admin:{app_label}_{model_name}_changelist") + "?" + urlencode(query)
            items.append((url, count, label))
        return format_html_join(" · ", '<a href="{}">{} {}</a>', items)

    @admin.action(description="Revoke tokens and sessions of the selected users")
    def revoke_credentials(self, request, queryset):
        """Every JWT issued so far, console and Linkis sessions, and the API tokens made for the user alone."""
        for user in queryset:
            deactivated = services.credentials_revoke(user=user, actor=request.user)
            self.log_change(request, user, f"Revoked tokens and sessions ({deactivated} API token(s) deactivated).")
            self.message_user(
                request,
                f"Revoked the tokens and sessions of {user.username}; {deactivated} API token(s) deactivated.",
                messages.SUCCESS,
            )

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        if "engines" in form.cleaned_data:  # the change form (the add form has no engines)
            save_engine_rights(form)


class ApiTokenAddForm(forms.ModelForm):
    code = forms.CharField(
        required=False,
        min_length=16,
        max_length=256,
        help_text="Leave empty to generate one. The code is shown once, after saving; only its hash is kept.",
    )

    class Meta:
        model = ApiToken
        fields = ("name", "code", "legal_users", "legal_hosts", "is_admin_token", "expires_at")

    def clean_code(self) -> str:
        code = self.cleaned_data.get("code") or ""
        if code and ApiToken.objects.filter(key_hash=hash_token_code(code)).exists():
            raise ValidationError("A token with this code already exists.")
        return code


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "key_prefix", "legal_users", "legal_hosts", "is_admin_token", "is_active", "expires_at",
                    "last_used_at")  # fmt: skip
    list_filter = ("is_active", "is_admin_token")
    search_fields = ("name", "legal_users", "key_prefix")
    readonly_fields = ("key_prefix", "created_by", "created_at", "last_used_at")
    list_select_related = ("created_by",)
    fields = ("name", "key_prefix", "legal_users", "legal_hosts", "is_admin_token", "is_active", "expires_at",
              "created_by", "created_at", "last_used_at")  # fmt: skip

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiTokenAddForm
            kwargs["fields"] = ApiTokenAddForm.Meta.fields
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        return ApiTokenAddForm.Meta.fields if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        token, code = services.api_token_create(
            name=form.cleaned_data["name"],
            code=form.cleaned_data.get("code") or "",
            legal_users=form.cleaned_data["legal_users"],
            legal_hosts=form.cleaned_data["legal_hosts"],
            is_admin_token=form.cleaned_data["is_admin_token"],
            expires_at=form.cleaned_data["expires_at"],
            created_by=request.user,
        )
        obj.pk = token.pk
        obj.refresh_from_db()
        messages.warning(
            request,
            f"Token code for {token.name}: {code} (send it as the Token-Code header; it will not be shown again)",
        )
