"""Choose the settings profile from the environment."""

import os


def default_settings_module() -> str:
    """Return the production settings when DATABASE_URL or REDIS_URL is set, else the embedded default."""
    if os.environ.get("DATABASE_URL", "").strip() or os.environ.get("REDIS_URL", "").strip():
        return "dataplatform.settings.production"
    return "dataplatform.settings.base"
