"""Artifacts and applications: CDAP's namespaces, versioned artifacts with their app class and plugins,
applications created from an artifact plus config, their change history, and their program runs.

An artifact version's archive is stored once per content hash under ``ARTIFACTS_DIR/blobs``; the row keeps
what was read from its manifest (the app class, the plugins, the parents and the properties), so nothing in
an uploaded archive is ever imported or executed to answer the API. ``sort_key`` encodes CDAP's version
order as a string of hex digits, so that the database orders and pages versions the way CDAP compares them,
whatever the database's collation.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import models
from django.utils import timezone

SYSTEM_NAMESPACE = "system"
DEFAULT_NAMESPACE = "default"


class Namespace(models.Model):
    name = models.CharField(max_length=128, unique=True)
    description = models.TextField(blank=True)
    config = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_system(self) -> bool:
        return self.name == SYSTEM_NAMESPACE


class Artifact(models.Model):
    """An artifact name in a namespace; its versions are the stored archives."""

    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="artifacts")
    name = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["namespace__name", "name"]
        constraints = [models.UniqueConstraint(fields=["namespace", "name"], name="artifacts_artifact_ns_name")]

    def __str__(self) -> str:
        return f"{self.namespace.name}:{self.name}"

    @property
    def scope(self) -> str:
        return "SYSTEM" if self.namespace.name == SYSTEM_NAMESPACE else "USER"


class Blob(models.Model):
    """A stored archive, once per content hash; versions share it (a snapshot re-upload of the same bytes,
    one archive uploaded under two versions). Its row lock serialises storing and deleting the file."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    size = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.sha256

    @property
    def path(self) -> Path:
        return blob_path(self.sha256)


class ArtifactVersion(models.Model):
    class Format(models.TextChoices):
        ZIP = "zip"
        WHEEL = "wheel"
        JAR = "jar"

    artifact = models.ForeignKey(Artifact, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=128)
    #: CDAP's version order as hex digits (``artifacts.versions.ArtifactVersion.sort_key``).
    sort_key = models.CharField(max_length=700)
    is_snapshot = models.BooleanField(default=False)

    #: The stored archive; its primary key is the archive's SHA-256 checksum.
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="versions")
    size = models.PositiveBigIntegerField(help_text="Archive size in bytes.")
    format = models.CharField(max_length=8, choices=Format.choices)
    filename = models.CharField(max_length=255, blank=True, help_text="The name the archive was uploaded under.")

    #: The app class, or None: {"className", "description", "configSchema", "programs": [...]}.
    app_class = models.JSONField(null=True, blank=True)
    #: ["<ns>:<name>[lo,hi)", ...] as given, normalised.
    parents = models.JSONField(default=list, blank=True)
    properties = models.JSONField(default=dict, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    created_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["artifact", "sort_key"]
        constraints = [
            models.UniqueConstraint(fields=["artifact", "version"], name="artifacts_version_unique"),
        ]
        indexes = [models.Index(fields=["artifact", "sort_key"], name="artifacts_version_order")]

    def __str__(self) -> str:
        return f"{self.artifact}:{self.version}"

    @property
    def scope(self) -> str:
        return self.artifact.scope

    @property
    def sha256(self) -> str:
        return self.blob_id

    @property
    def blob_path(self) -> Path:
        return blob_path(self.blob_id)

    @property
    def programs(self) -> list[dict]:
        return list((self.app_class or {}).get("programs") or [])


def blob_path(sha256: str) -> Path:
    return Path(settings.ARTIFACTS_DIR) / "blobs" / sha256[:2] / f"{sha256}.zip"


def unpacked_path(sha256: str) -> Path:
    """Where programs run from: the archive extracted once, read-only by convention."""
    return Path(settings.ARTIFACTS_DIR) / "unpacked" / sha256


class Plugin(models.Model):
    """A plugin class inside an artifact version (from its manifest or the ``Artifact-Plugins`` header)."""

    artifact_version = models.ForeignKey(ArtifactVersion, on_delete=models.CASCADE, related_name="plugins")
    type = models.CharField(max_length=128)
    name = models.CharField(max_length=128)
    class_name = models.CharField(max_length=512)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=128, blank=True)
    config_field_name = models.CharField(max_length=128, blank=True)
    #: {<name>: {"name", "description", "type", "required", "macroSupported", "children"?}}
    properties = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["type", "name"]
        constraints = [
            models.UniqueConstraint(fields=["artifact_version", "type", "name"], name="artifacts_plugin_unique"),
        ]
        indexes = [models.Index(fields=["type", "name"], name="artifacts_plugin_type_name")]

    def __str__(self) -> str:
        return f"{self.type}:{self.name} ({self.artifact_version})"


class ArtifactParent(models.Model):
    """One parent range of a plugin artifact: its plugins are visible to artifacts in that range."""

    child = models.ForeignKey(ArtifactVersion, on_delete=models.CASCADE, related_name="parent_ranges")
    namespace = models.CharField(max_length=128)
    name = models.CharField(max_length=255)
    range = models.CharField(max_length=300, help_text="CDAP range, e.g. [1.0.0,2.0.0).")

    class Meta:
        indexes = [models.Index(fields=["namespace", "name"], name="artifacts_parent_target")]

    def __str__(self) -> str:
        return f"{self.child} extends {self.namespace}:{self.name}{self.range}"


class Application(models.Model):
    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="applications")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    # PROTECT: a version that an app uses cannot be deleted (409 naming the apps).
    artifact_version = models.ForeignKey(ArtifactVersion, on_delete=models.PROTECT, related_name="applications")
    #: What the request asked for (a version or a range); the resolved version is ``artifact_version``.
    artifact_request = models.CharField(max_length=300, blank=True)
    config = models.JSONField(null=True, blank=True)
    #: ``config`` as compact JSON text with its keys in the order the request gave them (PostgreSQL's jsonb keeps
    #: no order, and CDAP echoes a config in its own order); empty when there is no config.
    config_text = models.TextField(blank=True, default="")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="cdap_applications"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["namespace__name", "name"]
        constraints = [models.UniqueConstraint(fields=["namespace", "name"], name="artifacts_application_ns_name")]

    def __str__(self) -> str:
        return f"{self.namespace.name}.{self.name}"

    @property
    def programs(self) -> list[dict]:
        return self.artifact_version.programs


class ApplicationChange(models.Model):
    """One change to an application: who, when, and from which artifact version and config to which.

    It keeps the artifact coordinates as text as well as the foreign keys, so that the history still reads
    right after an old artifact version or the application itself is deleted.
    """

    class Action(models.TextChoices):
        CREATE = "create"
        REDEPLOY = "redeploy"
        UPGRADE = "upgrade"
        DOWNGRADE = "downgrade"
        CONFIG = "config"
        ROLLBACK = "rollback"
        DELETE = "delete"

    application = models.ForeignKey(
        Application, null=True, blank=True, on_delete=models.SET_NULL, related_name="changes"
    )
    namespace = models.CharField(max_length=128)
    app_name = models.CharField(max_length=255)
    action = models.CharField(max_length=16, choices=Action.choices)
    actor = models.CharField(max_length=150, blank=True)
    at = models.DateTimeField(default=timezone.now)
    via = models.CharField(max_length=32, blank=True, help_text="Which API or admin action made the change.")
    summary = models.TextField(blank=True)

    from_version = models.ForeignKey(
        ArtifactVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_artifact = models.CharField(max_length=400, blank=True, help_text="scope:name:version before the change.")
    from_config = models.JSONField(null=True, blank=True)
    to_version = models.ForeignKey(ArtifactVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    to_artifact = models.CharField(max_length=400, blank=True, help_text="scope:name:version after the change.")
    to_config = models.JSONField(null=True, blank=True)
    #: Set on a change that a later rollback undid; rollbacks walk back over the changes not yet undone.
    undone_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["namespace", "app_name", "-id"], name="artifacts_change_app")]

    def __str__(self) -> str:
        return f"{self.namespace}.{self.app_name} {self.action} at {self.at:%Y-%m-%d %H:%M:%S}"


class ProgramRun(models.Model):
    """One start of an application's program; the job it submitted carries its state, logs and kill."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="runs")
    program_type = models.CharField(max_length=16)
    program_name = models.CharField(max_length=255)
    run_id = models.CharField(max_length=36, unique=True)
    job = models.ForeignKey("jobs.Job", null=True, on_delete=models.SET_NULL, related_name="program_runs")
    runtime_args = models.JSONField(default=dict, blank=True)
    artifact_version = models.ForeignKey(ArtifactVersion, null=True, on_delete=models.SET_NULL, related_name="+")
    started_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["application", "program_type", "program_name", "-id"], name="artifacts_run_program"),
        ]

    def __str__(self) -> str:
        return f"{self.application}.{self.program_type}.{self.program_name} run {self.run_id}"
