"""The fuzz pass: Schemathesis against the platform's own OpenAPI schema (``/api/schema/``), on a live server.

A real server process (uvicorn, the embedded default in a data directory of its own, the job runner off so that
no generated code ever runs) is fuzzed with an admin's bearer token through Schemathesis's CLI: its examples,
coverage (boundary and wrongly typed values, missing and malformed parts) and fuzzing phases, with a fixed seed,
at most ``FUZZ_EXAMPLES`` cases per operation and pass, and a total budget of ``FUZZ_SECONDS``. It fails on any
5xx answer except the OpenPAI seed's documented 500s (``tests/fuzz_hooks.py``); the report names each failing
operation with a curl command that reproduces it, followed by the server's log.

The bad inputs the schema does not describe well (nested JSON, chunked bodies, NUL bytes, huge numbers) are
sent by hand in ``tests/api/test_bad_input.py``.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live import ROOT, LiveServer

pytestmark = [pytest.mark.fuzz, pytest.mark.live]

FUZZ_SECONDS = int(os.environ.get("FUZZ_SECONDS", "120"))
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))
FUZZ_SEED = int(os.environ.get("FUZZ_SEED", "20261204"))
SCHEMATHESIS = Path(sys.executable).parent / "st"


def test_schema_fuzzing_finds_no_server_errors(tmp_path):
    if os.environ.get("DATABASE_URL"):
        # The live server is the embedded default whatever the pass (tests.live drops DATABASE_URL): one run is enough.
        pytest.skip("the fuzz pass runs once, in the embedded pass")
    with LiveServer(tmp_path / "server", JOB_RUNNER_AUTOSTART="false") as server:
        command = [
            str(SCHEMATHESIS), "run", f"{server.url}/api/schema/?format=json", "--url", server.url,
            "--header", f"Authorization: Bearer {server.token()}",
            "--checks", "no_undocumented_server_error",
            "--phases", "examples,coverage,fuzzing",
            "--max-examples", str(FUZZ_EXAMPLES), "--seed", str(FUZZ_SEED), "--max-time", str(FUZZ_SECONDS),
            "--workers", "1", "--request-timeout", "30", "--generation-database", "none",
            "--no-color", "--output-truncate", "false",
        ]  # fmt: skip
        environ = dict(os.environ, SCHEMATHESIS_HOOKS="tests.fuzz_hooks", PYTHONPATH=str(ROOT))
        # Run from a directory of its own: Schemathesis keeps a cache in the working directory.
        result = subprocess.run(
            command, cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=FUZZ_SECONDS + 180
        )
        server_log = "".join(server.lines)
    report = f"{result.stdout[-30000:]}\n{result.stderr[-5000:]}\n--- server log ---\n{server_log[-20000:]}"
    assert result.returncode == 0, report
