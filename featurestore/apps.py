from django.apps import AppConfig


class FeaturestoreConfig(AppConfig):
    name = "featurestore"
    verbose_name = "Feature store"
