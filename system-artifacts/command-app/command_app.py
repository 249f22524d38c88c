"""The command-app system artifact: run the shell command named by the application's config.

Runtime arguments (the body of ``POST .../start``) are added to the command's environment, after the config's
``env`` map, so one application can be started with different values.
"""

import json
import os
import subprocess
import sys


def main() -> None:
    config = json.loads(os.environ.get("PLATFORM_APP_CONFIG") or "{}")
    env = {**os.environ, **(config.get("env") or {}), **json.loads(os.environ.get("PLATFORM_RUNTIME_ARGS") or "{}")}
    # Running the configured command is the whole point of this artifact; it runs as the job, under its limits.
    sys.exit(subprocess.call(["/bin/bash", "-c", config["command"]], env=env))  # noqa: S603
