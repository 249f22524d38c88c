"""Users' code runs sandboxed (jobs/sandbox.py): what a non-admin's job tries against the platform fails, in its own
log, on every engine and through OpenPAI and CDAP, while the job's own work still succeeds; the platform takes the
job's directory back without following what the job left in it; where the sandbox cannot start, users' code does not
run and the reason says so."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from django.db import connection

from jobs.models import Job, JobStatus
from jobs.sandbox import Grants, checked_grants, exit_status, sandbox_argv, sandbox_state, workdir_reclaim
from tests.conftest import bearer
from tests.jobs.conftest import log_text, wait_for

E = "/api/rest_j/v1/entrance"
FS = "/api/rest_j/v1/filesystem"
SERVER_SECRET = "server-only-secret-d41d8cd9"

transactional = pytest.mark.django_db(transaction=True)


def submit(client, user, code, engine="python-python3", run_type="python"):
    body = {"executionContent": {"code": code, "runType": run_type}, "labels": {"engineType": engine}}
    response = client.post(f"{E}/submit", body, content_type="application/json", **bearer(user))
    assert response.json()["status"] == 0, response.json()
    return response.json()["data"]


@pytest.fixture
def secrets(settings, monkeypatch):
    """What the platform keeps from jobs: its key file, its database file, its environment, DATA_DIR."""
    monkeypatch.setenv("ADMIN_PASSWORD", SERVER_SECRET)
    data_dir = Path(settings.DATA_DIR)
    database = str(connection.settings_dict["NAME"]) if connection.vendor == "sqlite" else str(data_dir / "none")
    return {
        "key": str(data_dir / "secret_key"),
        "db": database,
        "data_dir": str(data_dir),
        "server_pid": os.getpid(),
        "secret_key_value": settings.SECRET_KEY,
    }


# What a job tries: each line ``PROBE <name> <outcome>``. The parent is what runs the job's code (bubblewrap's
# reaper inside a sandbox); the server's pid is the platform's own.
SHELL_PROBE = """\
set -o pipefail
probe() {{
  if out=$(cat "$2" 2>&1 | tr '\\0' ' '); then echo "PROBE $1 read: $out"; else echo "PROBE $1 refused: $out"; fi
}}
echo "PROBE uid $(id -u)"
probe key {key}
probe db {db}
probe init_env /proc/1/environ
probe parent_env /proc/$PPID/environ
probe server_env /proc/{server_pid}/environ
if touch {data_dir}/pwned 2>/dev/null; then echo "PROBE write done"; else echo "PROBE write refused"; fi
echo "PROBE procs $(for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo -n '|'; done 2>/dev/null)"
echo "PROBE env $(env | tr '\\n' ' ')"
echo "my own work" > mine.txt && echo "PROBE own $(cat mine.txt)"
"""

PYTHON_PROBE = """\
import json, os

def probe(path):
    try:
        with open(path, "rb") as handle:
            return "read: " + handle.read().decode(errors="replace")
    except OSError as exc:
        return "refused: " + str(exc.strerror)

out = {{"uid": os.getuid(), "key": probe({key!r}), "db": probe({db!r}), "init_env": probe("/proc/1/environ"),
        "parent_env": probe(f"/proc/{{os.getppid()}}/environ"), "server_env": probe("/proc/{server_pid}/environ")}}
try:
    open(os.path.join({data_dir!r}, "pwned"), "w").write("x")
    out["write"] = "done"
except OSError as exc:
    out["write"] = "refused: " + str(exc.strerror)
procs = []
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            procs.append(open(f"/proc/{{pid}}/cmdline", "rb").read().replace(bytes(1), b" ").decode())
        except OSError:
            pass
out["procs"] = procs
out["env"] = " ".join(f"{{k}}={{v}}" for k, v in os.environ.items())
print("PROBE " + json.dumps(out))
"""


def shell_findings(log: str) -> dict[str, str]:
    found = {}
    for line in log.splitlines():
        if " INFO PROBE " in line:
            name, _, outcome = line.split(" INFO PROBE ", 1)[1].partition(" ")
            found[name] = outcome
    return found


def python_findings(log: str) -> dict:
    line = next(line for line in log.splitlines() if " INFO PROBE {" in line)
    return json.loads(line.split(" INFO PROBE ", 1)[1])


def assert_contained(found: dict, secrets: dict, state, log: str) -> None:
    """Every attempt on the platform failed; nothing secret reached the job's log."""
    assert int(found["uid"]) == state.uid != 0 and state.uid != os.geteuid()
    for name in ("key", "db", "init_env", "server_env"):
        assert str(found[name]).startswith("refused"), (name, found[name])
    assert SERVER_SECRET not in str(found["parent_env"])
    assert str(found["write"]).startswith("refused")
    assert not Path(secrets["data_dir"], "pwned").exists()
    # The server is invisible: only the sandbox's few processes are there.
    procs = found["procs"] if isinstance(found["procs"], list) else found["procs"].split("|")[:-1]
    server = Path("/proc/self/cmdline").read_bytes().replace(b"\0", b" ").decode()
    assert server.strip() not in [p.strip() for p in procs] and len(procs) <= 6, procs
    assert SERVER_SECRET not in log and secrets["secret_key_value"] not in log
    assert "ADMIN_PASSWORD" not in found["env"] and "DJANGO_SETTINGS_MODULE" not in found["env"]


# --- every engine, as a non-admin over HTTP ------------------------------------------------------------------------
@transactional
def test_python_job_cannot_reach_the_platform_but_does_its_own_work(client, user, runner, sandbox, secrets):
    code = PYTHON_PROBE.format(**secrets) + "show([(1, 'mine')], columns=['id', 'name'])\n"
    job = wait_for(submit(client, user, code)["taskID"])
    log = log_text(job.pk)
    assert job.status == JobStatus.SUCCEED, log
    assert_contained(python_findings(log), secrets, sandbox, log)
    tree = client.get(f"{FS}/getDirFileTrees?path=file://{job.result_dir}", **bearer(user)).json()["data"]
    [result] = tree["dirFileTrees"]["children"]
    opened = client.get(f"{FS}/openFile?path={result['path']}", **bearer(user)).json()["data"]
    assert opened["fileContent"] == [["1", "mine"]]


@transactional
def test_shell_job_cannot_reach_the_platform_but_does_its_own_work(client, user, runner, sandbox, secrets):
    job = wait_for(submit(client, user, SHELL_PROBE.format(**secrets), "shell-1", "sh")["taskID"])
    log = log_text(job.pk)
    assert job.status == JobStatus.SUCCEED, log
    found = shell_findings(log)
    assert_contained(found, secrets, sandbox, log)
    assert "Permission denied" in found["init_env"]  # the OS's refusal, in the job's own log
    assert found["own"] == "my own work"
    assert (job.workdir / "mine.txt").read_text() == "my own work\n"


@transactional
def test_duckdb_job_reads_and_writes_only_its_own_directory(client, user, runner, secrets):
    own = "COPY (SELECT 42 AS answer) TO 'mine.csv';\nSELECT * FROM read_csv('mine.csv');"
    job = wait_for(submit(client, user, own, "duckdb-2", "sql")["taskID"])
    assert job.status == JobStatus.SUCCEED, log_text(job.pk)
    for attempt in (
        f"SELECT * FROM read_text('{secrets['key']}')",
        f"COPY (SELECT 1) TO '{secrets['data_dir']}/pwned.csv'",
        f"ATTACH '{secrets['data_dir']}/other.duckdb' AS other",
        "SET enable_external_access = true",
        "SELECT * FROM read_text('/etc/hostname')",
    ):
        job = wait_for(submit(client, user, attempt, "duckdb-2", "sql")["taskID"])
        assert job.status == JobStatus.FAILED, (attempt, log_text(job.pk))
        assert "Permission Error" in job.error_desc or "locked" in job.error_desc, job.error_desc
    assert not Path(secrets["data_dir"], "pwned.csv").exists()


@transactional
def test_duckdb_limits_hold_without_the_sandbox(client, user, runner, settings, secrets):
    settings.JOB_SANDBOX = False
    job = wait_for(submit(client, user, f"SELECT * FROM read_text('{secrets['key']}')", "duckdb-2", "sql")["taskID"])
    assert job.status == JobStatus.FAILED and "file system operations are disabled" in job.error_desc
    job = wait_for(submit(client, user, f"COPY (SELECT 1) TO '{secrets['data_dir']}/pwned.csv'", "duckdb-2",
                          "sql")["taskID"])  # fmt: skip
    assert job.status == JobStatus.FAILED and not Path(secrets["data_dir"], "pwned.csv").exists()


@transactional
def test_spark_job_runs_sandboxed(client, user, runner, sandbox, secrets):
    from jobs.engines import engine_unavailable_reason

    if reason := engine_unavailable_reason("spark"):
        pytest.skip(reason)
    code = PYTHON_PROBE.format(**secrets) + "show(spark.range(3).selectExpr('id * 2 AS doubled'))\n"
    job = wait_for(submit(client, user, code, "spark-2.4.3", "py")["taskID"], timeout=180)
    log = log_text(job.pk)
    assert job.status == JobStatus.SUCCEED, log
    assert_contained(python_findings(log), secrets, sandbox, log)
    assert job.result_count == 1


# --- OpenPAI task commands and CDAP programs ----------------------------------------------------------------------
@transactional
def test_openpai_task_cannot_reach_the_platform_but_writes_its_output(
    api_client, user, runner, sandbox, secrets, settings, tmp_path
):
    settings.OPENPAI_DEFAULT_FS = tmp_path / "pai"
    shared = settings.OPENPAI_DEFAULT_FS / "data" / "mnist"
    shared.mkdir(parents=True)
    (shared / "train.txt").write_text("shared data\n")
    others = settings.OPENPAI_DEFAULT_FS / "Output" / "bob" / "secret-job"
    others.mkdir(parents=True)
    (others / "model.bin").write_text("bob's model\n")
    command = SHELL_PROBE.format(**secrets) + (
        'echo "PROBE data $(cat $PAI_DATA_DIR/train.txt)"\n'
        f'if cat {others}/model.bin 2>/dev/null; then echo "PROBE other read"; else echo "PROBE other refused"; fi\n'
        'if touch "$PAI_DATA_DIR/x" 2>/dev/null; then echo "PROBE datawrite done"\n'
        'else echo "PROBE datawrite refused"; fi\n'
        'echo result > "$PAI_OUTPUT_DIR/result.txt"'
    )
    body = {"jobName": "probe", "image": "x", "dataDir": "$PAI_DEFAULT_FS_URI/data/mnist",
            "taskRoles": [{"name": "main", "taskNumber": 1, "command": command}]}  # fmt: skip
    response = api_client.post("/api/v1/jobs", data=json.dumps(body), content_type="application/json", **bearer(user))
    assert response.status_code == 202, response.content
    job = wait_for(Job.objects.get(source_api=Job.SourceApi.OPENPAI).pk)
    log = log_text(job.pk)
    assert job.status == JobStatus.SUCCEED, log
    found = shell_findings(log)
    assert_contained(found, secrets, sandbox, log)
    assert found["data"] == "shared data" and found["other"] == "refused" and found["datawrite"] == "refused"
    output = settings.OPENPAI_DEFAULT_FS / "Output" / "alice" / "probe" / "result.txt"
    assert output.read_text() == "result\n"


@pytest.fixture
def cdap_namespaces(db):
    from artifacts.models import Namespace

    Namespace.objects.get_or_create(name="default", defaults={"description": "Default Namespace"})
    Namespace.objects.get_or_create(name="system", defaults={"description": "System artifacts"})


@transactional
def test_cdap_command_app_cannot_reach_the_platform(client, user, runner, sandbox, secrets, cdap_namespaces):
    from artifacts import services as artifact_services

    artifact_services.system_artifacts_load(directories=[Path(__file__).resolve().parents[2] / "system-artifacts"])
    request = {"artifact": {"name": "command-app", "version": "1.0.0", "scope": "SYSTEM"},
               "config": {"command": SHELL_PROBE.format(**secrets)}}  # fmt: skip
    response = client.put("/v3/namespaces/default/apps/probe", data=json.dumps(request),
                          content_type="application/json", **bearer(user))  # fmt: skip
    assert response.status_code == 200, response.content
    response = client.post("/v3/namespaces/default/apps/probe/workflows/Run/start", data="",
                           content_type="application/json", **bearer(user))  # fmt: skip
    assert response.status_code == 200, response.content
    job = wait_for(Job.objects.get(source_api=Job.SourceApi.CDAP).pk)
    log = log_text(job.pk)
    assert job.status == JobStatus.SUCCEED, log  # it imported command_app from its (read-only) artifact
    assert_contained(shell_findings(log), secrets, sandbox, log)


@transactional
def test_cdap_program_reads_its_artifact_code_but_cannot_change_it(client, user, runner, sandbox, cdap_namespaces):
    from tests.artifacts.factories import manifest, zip_bytes

    doc = manifest("probeapp", "1.0.0")
    code = (
        "import os\nfrom myapp import helper\nprint('helper says', helper.VALUE)\n"
        "try:\n    open(os.path.join(os.environ['PLATFORM_ARTIFACT_DIR'], 'myapp', 'helper.py'), 'a').write('X = 1')\n"
        "    print('artifact changed')\nexcept OSError as exc:\n    print('artifact refused:', exc.strerror)\n"
    )
    doc["app"]["programs"] = [{"type": "workflows", "name": "Probe", "engine": "python", "code": code}]
    response = client.post("/v3/namespaces/default/artifacts/probeapp", data=zip_bytes(doc),
                           content_type="application/octet-stream", **bearer(user))  # fmt: skip
    assert response.status_code == 200, response.content
    request = {"artifact": {"name": "probeapp", "version": "1.0.0"}, "config": {"table": "t"}}
    response = client.put("/v3/namespaces/default/apps/app1", data=json.dumps(request),
                          content_type="application/json", **bearer(user))  # fmt: skip
    assert response.status_code == 200, response.content
    response = client.post("/v3/namespaces/default/apps/app1/workflows/Probe/start", data="",
                           content_type="application/json", **bearer(user))  # fmt: skip
    assert response.status_code == 200, response.content
    job = wait_for(Job.objects.get(source_api=Job.SourceApi.CDAP).pk)
    log = log_text(job.pk)
    assert job.status == JobStatus.SUCCEED, log
    assert "INFO helper says 42" in log and "INFO artifact refused:" in log


# --- the job's directory, before and after --------------------------------------------------------------------------
@transactional
def test_links_a_job_leaves_are_never_followed_by_the_platform(client, user, runner, sandbox, secrets):
    key = Path(secrets["key"])
    before = key.read_text()
    code = (
        f"ln -s {key} result/_0.dolphin\nmkfifo result/_1.dolphin\nln -s {key} job.log\n"
        f"mv result kept && ln -s {secrets['data_dir']} result\necho 'a line for the text result set'\n"
    )
    job = wait_for(submit(client, user, code, "shell-1", "sh")["taskID"])
    assert job.status == JobStatus.SUCCEED, log_text(job.pk)
    assert key.read_text() == before  # job.log was not written through the link
    assert not list(Path(secrets["data_dir"]).glob("_*.dolphin"))  # nor the text result set
    assert job.log_file.is_file() and not job.log_file.is_symlink()
    assert "a line for the text result set" in job.log_file.read_text()
    assert job.result_dir.is_dir() and not job.result_dir.is_symlink()
    kept = job.workdir / "kept"  # the result directory the runner held open while the job moved it away
    assert (kept / "_2.dolphin").is_file() and not (kept / "_2.dolphin").is_symlink()
    assert "a line for the text result set" in (kept / "_2.dolphin").read_text()
    for name in ("_0.dolphin", "_1.dolphin"):  # a link to the key, a FIFO: never served
        opened = client.get(f"{FS}/openFile?path=file://{kept / name}", **bearer(user)).json()
        assert opened["status"] != 0 and before not in json.dumps(opened)
    for path in (job.workdir, *job.workdir.rglob("*")):
        info = path.lstat()
        assert info.st_uid == os.geteuid(), path  # the server's again
        assert stat.S_IMODE(info.st_mode) & 0o077 == 0 or stat.S_ISLNK(info.st_mode), path
    tree = client.get(f"{FS}/getDirFileTrees?path=file://{job.result_dir}", **bearer(user)).json()["data"]
    assert tree["dirFileTrees"]["children"] == []


@transactional
def test_the_job_runs_in_its_own_directory_owned_by_the_job_user(client, user, runner, sandbox):
    code = "import os\nst = os.stat('.')\nprint('owner', st.st_uid, oct(st.st_mode & 0o777), os.getcwd())\n"
    job = wait_for(submit(client, user, code)["taskID"])
    assert job.status == JobStatus.SUCCEED
    assert f"INFO owner {sandbox.uid} 0o700 {job.workdir}" in log_text(job.pk)
    assert not (job.workdir.parent / ".tmp" / str(job.pk)).exists()  # its /tmp went with it


@transactional
def test_platform_files_are_private_to_the_server(runner, settings):
    for directory in (settings.DATA_DIR, settings.JOBS_DIR, settings.ARTIFACTS_DIR, settings.OPENPAI_DEFAULT_FS):
        assert stat.S_IMODE(Path(directory).stat().st_mode) == 0o700, directory
    assert stat.S_IMODE((Path(settings.DATA_DIR) / "secret_key").stat().st_mode) == 0o600


# --- where the sandbox cannot run ----------------------------------------------------------------------------------
@transactional
def test_without_a_job_user_users_code_does_not_run_and_the_job_says_why(client, user, runner, sandbox, settings):
    settings.JOB_OS_USER = "no-such-platform-user"
    job = wait_for(submit(client, user, "print('must not run')")["taskID"])
    assert job.status == JobStatus.FAILED and job.error_code == 40001 and job.pid is None
    assert "'no-such-platform-user' (JOB_OS_USER) does not exist" in job.error_desc
    assert "JOB_SANDBOX=off" in job.error_desc
    assert "must not run" not in log_text(job.pk).split("SCRIPT CODE")[-1]
    health = client.get("/healthz").json()
    assert health["sandbox"]["state"] == "unavailable" and "JOB_OS_USER" in health["sandbox"]["detail"]
    settings.JOB_OS_USER = sandbox.user
    assert client.get("/healthz").json()["sandbox"] == {"state": "ok", "detail": "ok", "user": sandbox.user}


def test_without_bubblewrap_the_reason_names_the_package_and_the_setting(settings, monkeypatch):
    import shutil

    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "bwrap" else real_which(name))
    state = sandbox_state(refresh=True)
    assert not state.ready and "bubblewrap (bwrap) is not installed" in state.detail
    assert "JOB_SANDBOX=off" in state.detail
    monkeypatch.undo()
    sandbox_state(refresh=True)


@transactional
def test_sandbox_off_is_a_knowing_choice_shown_in_health(client, user, runner, settings):
    settings.JOB_SANDBOX = False
    job = wait_for(submit(client, user, "import os\nprint('uid', os.getuid())")["taskID"])
    assert job.status == JobStatus.SUCCEED and f"INFO uid {os.geteuid()}" in log_text(job.pk)
    assert client.get("/healthz").json()["sandbox"]["state"] == "off"


@transactional
def test_network_off_leaves_only_loopback(client, user, runner, sandbox, settings):
    settings.JOB_SANDBOX_NETWORK = False
    job = wait_for(submit(client, user, "cat /proc/net/dev | tail -n +3 | cut -d: -f1", "shell-1", "sh")["taskID"])
    assert job.status == JobStatus.SUCCEED
    interfaces = [line.split(" INFO ")[1].strip() for line in log_text(job.pk).splitlines() if " INFO " in line]
    assert "lo" in interfaces and not any(name.startswith(("eth", "en", "veth")) for name in interfaces)


# --- units ----------------------------------------------------------------------------------------------------------
def test_grants_outside_their_roots_or_through_links_are_dropped(tmp_path):
    root = tmp_path / "pai"
    (root / "data").mkdir(parents=True)
    (root / "link").symlink_to(tmp_path)
    grants = Grants(read_only=(str(root / "data"), str(root / "link"), str(tmp_path), str(root), "relative/path"),
                    read_write=(str(root / "data" / ".." / ".." / "elsewhere"),))  # fmt: skip
    kept = checked_grants(grants, read_only_roots=[root], read_write_roots=[root])
    assert kept == Grants(read_only=(str(root / "data"),), read_write=())


def test_openpai_grants_keep_to_the_users_area(settings, tmp_path):
    from jobs.openpai.services import task_grants

    settings.OPENPAI_DEFAULT_FS = fs = tmp_path / "pai"
    config = {"dataDir": f"{fs}/data/mnist", "codeDir": f"{fs}/Output/bob/code", "outputDir": f"{fs}/Output/alice/j"}
    assert task_grants(config, username="alice") == Grants(read_only=(f"{fs}/data/mnist",),
                                                           read_write=(f"{fs}/Output/alice/j",))  # fmt: skip
    hostile = {"dataDir": str(fs), "codeDir": f"{fs}/Output", "outputDir": f"{fs}/Output/alice/../bob/x"}
    assert task_grants(hostile, username="alice") == Grants()
    outside = {"dataDir": "/etc", "codeDir": "/code", "outputDir": "/srv/out"}
    assert task_grants(outside, username="alice") == Grants()


def test_the_command_line_hides_the_platform_and_drops_root(sandbox, settings, tmp_path):
    argv = sandbox_argv(sandbox, ["prog"], workdir=tmp_path / "w", tmpdir=tmp_path / "t",
                        grants=Grants(read_only=("/srv/code",), read_write=("/srv/out",)))  # fmt: skip
    binds = [(argv[i], argv[i + 1]) for i in range(len(argv) - 1) if argv[i].startswith("--") and "bind" in argv[i]]
    sources = [source for _, source in binds]
    assert str(settings.DATA_DIR) not in sources and "/" not in sources and "/root" not in sources
    assert ("--ro-bind-try", "/srv/code") in binds and ("--bind-try", "/srv/out") in binds
    assert ("--bind", str(tmp_path / "w")) in binds and ("--ro-bind", "/usr") in binds
    for flag in ("--unshare-pid", "--unshare-ipc", "--die-with-parent"):
        assert flag in argv
    separator = argv.index("--")
    assert argv[separator + 1 : separator + 3] == [sandbox.setpriv, f"--reuid={sandbox.uid}"]
    assert argv[-1] == "prog" and "--unshare-net" not in argv


def test_exit_status_gives_back_signals():
    assert exit_status(128 + 9) == -9 and exit_status(128 + 24) == -24
    assert exit_status(0) == 0 and exit_status(3) == 3 and exit_status(128) == 128


def test_reclaim_takes_back_a_directory_without_following_links(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("untouched")
    workdir = tmp_path / "job"
    (workdir / "result").mkdir(parents=True)
    (workdir / "result" / "_0.dolphin").write_text('{"type": "1", "metadata": "NULL"}\n')
    (workdir / "result" / "_1.dolphin").symlink_to(outside)
    (workdir / "job.log").symlink_to(outside)
    os.mkfifo(workdir / "result" / "_2.dolphin")
    (workdir / "data").mkdir()
    (workdir / "data" / "x").write_text("mine")
    (workdir / "data" / "x").chmod(0o666)
    workdir_reclaim(workdir, tmp_path / "tmpdir")
    assert sorted(p.name for p in (workdir / "result").iterdir()) == ["_0.dolphin"]
    assert not (workdir / "job.log").exists() and outside.read_text() == "untouched"
    assert stat.S_IMODE((workdir / "data" / "x").stat().st_mode) == 0o600
    assert stat.S_IMODE(workdir.stat().st_mode) == 0o700


@transactional
def test_a_sandbox_that_fails_to_start_fails_the_job_with_the_reason(client, user, runner, sandbox, monkeypatch):
    import jobs.runners.supervisor as local

    real = local.sandbox_argv

    def broken(*args, **kwargs):
        argv = real(*args, **kwargs)
        at = argv.index("--")
        return [*argv[:at], "--ro-bind", "/no/such/source", "/mnt/x", *argv[at:]]

    monkeypatch.setattr(local, "sandbox_argv", broken)
    job = wait_for(submit(client, user, "print('never')")["taskID"])
    assert job.status == JobStatus.FAILED and job.error_code == 40001
    assert job.error_desc.startswith("The sandbox could not start the job: bwrap: Can't find source path")
    assert not (job.workdir.parent / ".tmp" / str(job.pk)).exists()
    assert job.workdir.stat().st_uid == os.geteuid()
