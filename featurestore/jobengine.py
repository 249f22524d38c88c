"""The jobs ``sql`` engine: run the feature store's SQL over its tables, as a job's child process.

    python -m featurestore.jobengine code.sql

It sets Django up with the platform's settings (the runner passes them to this engine only: it runs no user
program, just SQL), runs each statement in offline mode (a SELECT with windows computes every stored row as
request mode would have), writes each result set as a TABLE result set of the job and reports progress per
statement through the control channel. The database is ``$PLATFORM_JOB_DB`` (from the job's
``params.configuration.runtime["openmldb.db"]``) unless the SQL says ``USE db``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

LINKIS_TYPES = {
    "bool": "boolean",
    "int16": "smallint",
    "int32": "int",
    "int64": "bigint",
    "float": "float",
    "double": "double",
    "string": "string",
    "date": "date",
    "timestamp": "timestamp",
}


def main(argv: list[str]) -> int:
    """Run the SQL file named by the last argument; exit 0, or 1 with the error on stderr."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dataplatform.settings.base")
    import django

    django.setup()
    from featurestore import sql as sqlexec
    from featurestore.errors import FeatureStoreError
    from featurestore.jsonx import output_value
    from jobs.engines import control
    from jobs.engines.resultset import ResultSetWriter

    code = Path(argv[-1]).read_text(encoding="utf-8")
    db = os.environ.get("PLATFORM_JOB_DB") or "default"
    result_dir = os.environ.get("PLATFORM_RESULT_DIR", "result")
    max_rows = int(os.environ.get("PLATFORM_RESULT_MAX_ROWS", "100000"))
    try:
        for number, count, result in sqlexec.execute_each(db=db, sql=code, mode="offsync"):
            if result.note:
                print(f"statement {number + 1}: {result.note}", flush=True)
            if result.schema is None:
                print(f"statement {number + 1}: OK", flush=True)
            else:
                columns = [(name, LINKIS_TYPES.get(kind, "string")) for name, kind in result.schema]
                with ResultSetWriter.table(result_dir, columns) as writer:
                    for row in result.rows[:max_rows]:
                        writer.write_row([output_value(v, k) for v, (_, k) in zip(row, result.schema, strict=True)])
                print(f"statement {number + 1}: {len(result.rows)} rows", flush=True)
                if len(result.rows) > max_rows:
                    print(f"statement {number + 1}: the result set keeps the first {max_rows} rows", flush=True)
            control.progress((number + 1) / count)
    except FeatureStoreError as exc:
        control.error(40000, f"SQL error: {exc.msg}")
        print(f"SQL error (code {exc.code}): {exc.msg}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
