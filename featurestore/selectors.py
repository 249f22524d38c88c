"""Read paths of the feature store catalog."""

from __future__ import annotations

from django.db.models import QuerySet

from featurestore.models import Database, Deployment, FeatureTable


def database_get(*, name: str) -> Database | None:
    return Database.objects.filter(name=name).first()


def database_list() -> QuerySet[Database]:
    return Database.objects.order_by("name")


def table_get(*, db: str, name: str) -> FeatureTable | None:
    return FeatureTable.objects.select_related("database").filter(database__name=db, name=name).first()


def table_list(*, db: str) -> QuerySet[FeatureTable]:
    return FeatureTable.objects.select_related("database").filter(database__name=db).order_by("name")


def deployment_get(*, db: str, name: str) -> Deployment | None:
    return Deployment.objects.select_related("database").filter(database__name=db, name=name).first()


def deployment_list(*, db: str | None = None) -> QuerySet[Deployment]:
    query = Deployment.objects.select_related("database")
    if db is not None:
        query = query.filter(database__name=db)
    return query.order_by("database__name", "name")
