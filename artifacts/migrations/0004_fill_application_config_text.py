import json

from django.db import migrations


def fill_config_text(apps, schema_editor):
    """Existing applications get their config's text in the order the database gives (nothing better is known)."""
    Application = apps.get_model("artifacts", "Application")
    for app in Application.objects.filter(config__isnull=False, config_text="").only("pk", "config"):
        text = json.dumps(app.config, separators=(",", ":"), ensure_ascii=False)
        Application.objects.filter(pk=app.pk).update(config_text=text)


class Migration(migrations.Migration):
    dependencies = [("artifacts", "0003_application_config_text")]

    operations = [migrations.RunPython(fill_config_text, migrations.RunPython.noop)]
