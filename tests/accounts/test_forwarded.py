"""Against a real server started as ``make run`` starts it (no proxy in front, ``NUM_PROXIES=0``): a client's
``X-Forwarded-For`` is not believed, so it can neither pass a host-locked API token nor spread its failed logins
over made-up addresses."""

import subprocess
import sys

import pytest
import requests

from tests.live import ADMIN, ROOT, LiveServer

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # A long first wait: a loaded machine must not let it run out between the last failure and the next try.
    with LiveServer(
        tmp_path_factory.mktemp("live-forwarded"), LOGIN_MAX_FAILURES="3", LOGIN_BACKOFF_FIRST_SECONDS="600"
    ) as live:
        yield live


def test_a_host_locked_token_is_not_passed_by_a_forwarded_address(server):
    script = (
        "from dataplatform.accounts.services import api_token_create\n"
        f"print(api_token_create(name='locked', created_by=None, legal_users='{ADMIN[0]}', legal_hosts='10.0.0.5')[1])"
    )
    code = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT, env=server.env, check=True,
        capture_output=True, text=True, timeout=120,
    ).stdout.strip().splitlines()[-1]  # fmt: skip
    headers = {"Token-Code": code, "Token-User": ADMIN[0], "X-Forwarded-For": "10.0.0.5"}
    answer = requests.get(f"{server.url}/api/rest_j/v1/user/userInfo", headers=headers, timeout=10)
    assert answer.status_code == 401 and "host 127.0.0.1 is not a legal host" in answer.json()["message"]


def test_forwarded_addresses_do_not_spread_failed_logins(server):
    for n in range(3):
        requests.post(f"{server.url}/api/auth", json={"username": "nobody1", "password": "wrong-pass"},
                      headers={"X-Forwarded-For": f"10.1.1.{n}"}, timeout=10)  # fmt: skip
    answer = requests.post(f"{server.url}/api/auth", json={"username": "nobody1", "password": "wrong-pass"},
                           headers={"X-Forwarded-For": "10.1.1.99"}, timeout=10)  # fmt: skip
    assert answer.status_code == 429
