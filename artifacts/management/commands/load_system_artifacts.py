"""Load the system artifacts directories (``SYSTEM_ARTIFACTS_DIR``) into the ``system`` namespace."""

from django.core.management.base import BaseCommand, CommandError

from artifacts.services import system_artifacts_load


class Command(BaseCommand):
    help = "Load the archives of the system artifacts directories (or of the given directories) as system artifacts."

    def add_arguments(self, parser):
        parser.add_argument("directories", nargs="*", help="Directories to load instead of SYSTEM_ARTIFACTS_DIR.")

    def handle(self, *args, **options):
        report = system_artifacts_load(directories=options["directories"] or None)
        for name in report.loaded:
            self.stdout.write(f"loaded {name}")
        for name in report.unchanged:
            self.stdout.write(f"unchanged {name}", self.style.HTTP_NOT_MODIFIED)
        for name, message in report.failed:
            self.stderr.write(f"failed {name}: {message}")
        self.stdout.write(
            f"{len(report.loaded)} loaded, {len(report.unchanged)} unchanged, {len(report.failed)} failed."
        )
        if report.failed:
            raise CommandError("some system artifacts could not be loaded")
