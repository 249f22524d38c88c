"""Archives stored once per content hash: a version claims its blob, and the last version to go releases it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from django.db import IntegrityError, transaction

from artifacts.models import Blob, blob_path, unpacked_path


def blob_claim(stored_path: Path, sha256: str, size: int) -> Blob:
    """Inside a transaction: lock (or create) the blob row and put the archive in place under it."""
    blob = Blob.objects.select_for_update().filter(pk=sha256).first()
    if blob is None:
        try:
            with transaction.atomic():
                blob = Blob.objects.create(sha256=sha256, size=size)
        except IntegrityError:
            blob = Blob.objects.select_for_update().get(pk=sha256)
    target = blob_path(sha256)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(stored_path, target)
    return blob


def blob_release(sha256: str) -> None:
    """Inside a transaction: delete the blob's row and file once no version uses it."""
    blob = Blob.objects.select_for_update().filter(pk=sha256).first()
    if blob is None or blob.versions.exists():
        return
    blob.delete()
    blob_path(sha256).unlink(missing_ok=True)
    shutil.rmtree(unpacked_path(sha256), ignore_errors=True)
