from django.apps import AppConfig


class PlatformConfig(AppConfig):
    name = "dataplatform"
    verbose_name = "Data platform"

    def ready(self) -> None:
        from django.core import checks

        from dataplatform import checks as platform_checks
        from dataplatform.api import schema  # noqa: F401 - registers OpenAPI extensions for our auth classes

        checks.register(platform_checks.check_production_settings, checks.Tags.security)

        from django.conf import settings

        from dataplatform.memory import memory_at_server_start
        from dataplatform.startup import server_start_hook

        # First of the hooks (this app comes before the others): malloc is set up before they start threads.
        server_start_hook(
            "memory",
            memory_at_server_start,
            enabled=lambda: settings.MEMORY_MALLOC_ARENAS > 0 or settings.MEMORY_TRIM_INTERVAL > 0,
        )
