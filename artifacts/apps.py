from django.apps import AppConfig


class ArtifactsConfig(AppConfig):
    name = "artifacts"
    verbose_name = "Artifacts"

    def ready(self):
        from django.conf import settings

        from artifacts.services import load_system_artifacts_at_start
        from dataplatform.startup import server_start_hook

        server_start_hook(
            "system-artifacts", load_system_artifacts_at_start, enabled=lambda: settings.SYSTEM_ARTIFACTS_LOAD_AT_START
        )
