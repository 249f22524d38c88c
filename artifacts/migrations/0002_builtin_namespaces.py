from django.db import migrations


def create_namespaces(apps, schema_editor):
    Namespace = apps.get_model("artifacts", "Namespace")
    Namespace.objects.get_or_create(name="default", defaults={"description": "Default Namespace"})
    Namespace.objects.get_or_create(name="system", defaults={"description": "System artifacts, visible everywhere"})


class Migration(migrations.Migration):
    dependencies = [("artifacts", "0001_initial")]

    operations = [migrations.RunPython(create_namespaces, migrations.RunPython.noop)]
