"""``OPENPAI_RUNNER=ray`` as an operator runs it: a real server process starts the gang dispatcher, which starts a
local Ray head (``RAY_ADDRESS=local``), and an OpenPAI job submitted over HTTP runs on it with its GPU."""

import socket

import pytest
import requests

from tests.conftest import eventually
from tests.live import ADMIN, LiveServer

pytestmark = pytest.mark.live

PATIENCE = 180.0  # seconds: the head, the dispatcher and the first agent start on a loaded machine


def test_server_runs_openpai_jobs_on_its_own_local_ray_head(tmp_path):
    env = {"OPENPAI_RUNNER": "ray", "RAY_ADDRESS": "local", "RAY_LOCAL_NUM_CPUS": "2", "RAY_LOCAL_NUM_GPUS": "1"}
    with LiveServer(tmp_path, **env) as server:
        headers = {"Authorization": f"Bearer {server.token()}"}
        role = {"name": "trainer", "taskNumber": 1, "gpuNumber": 1, "command": 'echo "gpus=$CUDA_VISIBLE_DEVICES"'}
        body = {"jobName": "on-ray", "image": "x", "taskRoles": [role]}
        answer = requests.post(f"{server.url}/api/v1/jobs", json=body, headers=headers, timeout=30)
        assert answer.status_code == 202, answer.text

        def final():
            status = requests.get(f"{server.url}/api/v1/jobs/on-ray", headers=headers, timeout=30).json()
            return status if status["jobStatus"]["state"] in ("SUCCEEDED", "FAILED", "STOPPED") else None

        status = eventually(final, timeout=PATIENCE, message="the job did not end on the local Ray head")
        assert status["jobStatus"]["state"] == "SUCCEEDED", status
        task = status["taskRoles"]["trainer"]["taskStatuses"][0]
        assert task["containerGpus"] == 1 and task["containerIp"] == "127.0.0.1"
        log = requests.get(
            f"{server.url}/api/v1/user/{ADMIN[0]}/jobs/on-ray/tasks/trainer/0/log", headers=headers, timeout=30
        ).text
        assert "gpus=0" in log

        # a role the head could never hold is refused at submit, once the dispatcher has seen the head
        body = {"jobName": "too-big", "image": "x", "taskRoles": [{**role, "gpuNumber": 2}]}
        answer = requests.post(f"{server.url}/api/v1/jobs", json=body, headers=headers, timeout=30)
        assert answer.status_code == 400 and answer.json()["code"] == "InvalidParametersError"
        dispatcher_log = (tmp_path / "logs" / "openpai-ray.log").read_text()
        assert "Started a Ray head at 127.0.0.1:" in dispatcher_log
        heads = [line.split()[5] for line in dispatcher_log.splitlines() if "Started a Ray head" in line]
    # the server stopped: its dispatcher and the head with it (nothing of Ray is left listening)
    address = heads[-1].rstrip(":")
    port = int(address.rsplit(":", 1)[1])

    def closed() -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) != 0

    eventually(closed, timeout=PATIENCE, message=f"the Ray head at {address} outlived the server")
