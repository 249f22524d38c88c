"""``make run`` with DATABASE_URL and REDIS_URL set: the production profile on one machine.

    nginx      HOST:PORT        one origin: /ws/ -> uvicorn, the rest -> gunicorn
    web        127.0.0.1:PORT+1 gunicorn, WEB_PROCESSES sync workers (default: one per core), WSGI
    ws         127.0.0.1:PORT+2 uvicorn, ASGI, for WebSocket
    worker                      one Celery worker (manage.py worker); `make worker` adds more, anywhere
    openpai-ray                 with OPENPAI_RUNNER=ray: the gang dispatcher of OpenPAI jobs (manage.py openpai_ray)

honcho supervises them: their output is prefixed with their name, and when one exits the others are stopped.
HTTP goes to sync WSGI workers because a sync view under an ASGI server pays a thread hop per request (see
bench/README.md, "Production profile"); WebSocket needs ASGI. nginx comes from Debian (`make nginx`).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from string import Template

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError:
        sys.exit(f"{name} must be a whole number, not {value!r}")


def main() -> None:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None:
        sys.exit("The production profile serves through nginx, which is not installed: run `make nginx` as root.")
    host = os.environ.get("HOST", "127.0.0.1")
    port = env_int("PORT", 8000)
    http_port = env_int("HTTP_PORT", port + 1)
    ws_port = env_int("WS_PORT", port + 2)
    processes = env_int("WEB_PROCESSES", os.cpu_count() or 1)
    data_dir = Path(os.environ.get("DATA_DIR", ROOT / "var")).resolve()
    nginx_dir = data_dir / "nginx"
    nginx_dir.mkdir(parents=True, exist_ok=True)
    config = Template((ROOT / "deploy" / "nginx.conf.template").read_text()).substitute(
        nginx_dir=nginx_dir,
        host=host,
        port=port,
        http_port=http_port,
        ws_port=ws_port,
        max_body=os.environ.get("PROXY_MAX_BODY", "2g"),
    )
    (nginx_dir / "nginx.conf").write_text(config)
    python = sys.executable
    procfile = nginx_dir.parent / "Procfile"
    procfile.write_text(
        f"proxy: {nginx} -p {nginx_dir} -c {nginx_dir / 'nginx.conf'} -e stderr -g 'daemon off;'\n"
        f"web: {VENV_BIN / 'gunicorn'} dataplatform.wsgi:application --bind 127.0.0.1:{http_port}"
        f" --workers {processes} --worker-class sync --timeout 600 --graceful-timeout 20\n"
        f"ws: {VENV_BIN / 'uvicorn'} dataplatform.asgi:application --host 127.0.0.1 --port {ws_port} --lifespan off"
        " --http httptools --ws websockets --proxy-headers --no-access-log\n"
        f"worker: {python} manage.py worker\n"
        + (f"openpai-ray: {python} manage.py openpai_ray\n" if os.environ.get("OPENPAI_RUNNER") == "ray" else "")
    )
    # The production profile runs the OpenPAI dispatcher as a process of its own, not inside a web process.
    os.environ["OPENPAI_RAY_DISPATCHER_AUTOSTART"] = "0"
    # Behind nginx the client address is the last X-Forwarded-For hop (login throttling, logs).
    os.environ.setdefault("NUM_PROXIES", "1")
    os.environ["JOB_RUNNER_AUTOSTART"] = "1"
    print(
        f"Serving on http://{host}:{port}/ (nginx; HTTP: gunicorn x{processes} on :{http_port}, WebSocket: uvicorn on"
        f" :{ws_port}, one Celery worker; admin at /admin/, console at /console/)",
        flush=True,
    )
    honcho = str(VENV_BIN / "honcho")
    os.execv(honcho, [honcho, "-d", str(ROOT), "-f", str(procfile), "start"])  # noqa: S606 - our own argv


if __name__ == "__main__":
    main()
