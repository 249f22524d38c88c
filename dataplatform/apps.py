from django.apps import AppConfig


class PlatformConfig(AppConfig):
    name = "dataplatform"
    verbose_name = "Data platform"

    def ready(self) -> None:
        from django.core import checks

        from dataplatform import checks as platform_checks
        from dataplatform.api import schema  # noqa: F401 - registers OpenAPI extensions for our auth classes

        checks.register(platform_checks.check_production_settings, checks.Tags.security)
