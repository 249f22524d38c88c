from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "dataplatform.console"
    label = "console"
    verbose_name = "Console"
