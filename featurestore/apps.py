from django.apps import AppConfig


class FeaturestoreConfig(AppConfig):
    name = "featurestore"
    verbose_name = "Feature store"

    def ready(self):
        from django.conf import settings

        from dataplatform.startup import server_start_hook
        from featurestore.maintenance import start_ttl_expiry
        from jobs.engines import EngineSpec, python_module_command, register_engine

        server_start_hook("ttl-expiry", start_ttl_expiry, enabled=lambda: settings.FEATURESTORE_TTL_AUTOSTART)

        # The jobs `sql` engine: the feature store's SQL over its tables, in offline mode (featurestore.jobengine).
        # It is the platform's own code reading the platform's database, so it is trusted (not sandboxed).
        register_engine(
            EngineSpec("sql", python_module_command("featurestore.jobengine", "code.sql"), trusted=True, run_type="sql")
        )
