"""Write paths of artifacts and applications, one module per area; every public name is re-exported here, so
``from artifacts import services; services.program_start(...)`` reads the same whichever module holds it.

- ``namespaces``: create (idempotent), delete (admins; the ``default`` namespace is emptied, not removed).
- ``artifacts``: an upload is streamed to disk and hashed, checked as a safe zip, its manifest read without
  running anything, then stored once per content hash (``blobs``) and recorded with its plugins and parents in
  one transaction. Release versions are immutable; ``-SNAPSHOT`` versions are replaced. A version that an
  application uses cannot be deleted.
- ``properties`` and ``plugins``: what a version says about itself beyond its archive.
- ``system``: system artifacts, loaded from ``SYSTEM_ARTIFACTS_DIRS``.
- ``applications``: created from an artifact (a version or a range, resolved to the highest match) plus a config
  validated against the app class's ``configSchema``; updated, upgraded and rolled back only while none of their
  programs runs; every change is recorded in ``ApplicationChange``. Also CDAP's one-call deploy of an archive.
- ``programs``: a start submits a job to the job core (``jobs.services.job_submit``), a stop kills it.

Services take parsed Python values (the CDAP wire, ``artifacts.cdap``, reads bodies and headers) and raise the
domain errors of ``dataplatform.api.exceptions``, carrying CDAP's texts; the CDAP views render them with CDAP's
statuses.
"""

from artifacts.services.applications import (
    ArtifactRef,
    ConfigCarryOver,
    RollbackPlan,
    app_delete,
    app_deploy,
    app_deploy_archive,
    app_rollback,
    app_update,
    apps_delete_all,
    config_carry_over,
    config_problems,
    resolve_artifact,
    rollback_plan,
    rollback_target,
)
from artifacts.services.artifacts import (
    MAX_VERSION_LENGTH,
    AddResult,
    ArtifactUpload,
    artifact_add,
    artifact_add_check,
    artifact_version_delete,
)
from artifacts.services.common import MAX_NAME_LENGTH
from artifacts.services.namespaces import MAX_NAMESPACE_LENGTH, RESERVED_NAMESPACES, namespace_create, namespace_delete
from artifacts.services.plugins import artifact_plugins_set
from artifacts.services.programs import RUNTIME_ARGS_ERROR, program_start, program_stop, unpack_artifact
from artifacts.services.properties import (
    PROPERTIES_ERROR,
    artifact_properties_delete,
    artifact_properties_replace,
    artifact_property_set,
)
from artifacts.services.system import (
    LoadReport,
    load_system_artifacts_at_start,
    system_artifacts_load,
    write_reproducible_zip,
)

__all__ = [
    "MAX_NAMESPACE_LENGTH",
    "MAX_NAME_LENGTH",
    "MAX_VERSION_LENGTH",
    "PROPERTIES_ERROR",
    "RESERVED_NAMESPACES",
    "RUNTIME_ARGS_ERROR",
    "AddResult",
    "ArtifactRef",
    "ArtifactUpload",
    "ConfigCarryOver",
    "LoadReport",
    "RollbackPlan",
    "app_delete",
    "app_deploy",
    "app_deploy_archive",
    "app_rollback",
    "app_update",
    "apps_delete_all",
    "artifact_add",
    "artifact_add_check",
    "artifact_plugins_set",
    "artifact_properties_delete",
    "artifact_properties_replace",
    "artifact_property_set",
    "artifact_version_delete",
    "config_carry_over",
    "config_problems",
    "load_system_artifacts_at_start",
    "namespace_create",
    "namespace_delete",
    "program_start",
    "program_stop",
    "resolve_artifact",
    "rollback_plan",
    "rollback_target",
    "system_artifacts_load",
    "unpack_artifact",
    "write_reproducible_zip",
]
