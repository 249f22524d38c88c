from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "dataplatform.accounts"
    label = "accounts"
    verbose_name = "Accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.conf import settings
        from django.db.models.signals import post_delete, post_save

        from dataplatform.api.authentication import forget_changed_user

        # The request path's cached row of a user goes as soon as the user is saved or deleted here.
        post_save.connect(forget_changed_user, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.forget_saved")
        post_delete.connect(forget_changed_user, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.forget_gone")
