"""Shared fixtures: users, API clients, and the switch that turns service-backed skips into failures."""

from __future__ import annotations

import os

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.accounts.factories import PASSWORD, UserFactory
from tests.waiting import eventually  # noqa: F401 - tests import the one waiting helper from here

REQUIRE_SERVICES = os.environ.get("PLATFORM_REQUIRE_SERVICES", "") in ("1", "true", "yes")


def need_service(reason: str) -> None:
    """Skip the test because a backing service is missing, or fail it when services are required (CI)."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (PLATFORM_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _clear_cache():
    """Login-failure counts live in the cache, checked tokens and their users in the request path's memory (user ids
    restart when a test's transaction is rolled back); every test starts with none."""
    from dataplatform.api.authentication import forget_all

    cache.clear()
    forget_all()
    yield
    cache.clear()
    forget_all()


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def user(db):
    return UserFactory(username="alice")


@pytest.fixture
def other_user(db):
    return UserFactory(username="bob")


@pytest.fixture
def admin_user(db):
    return UserFactory(username="root", admin=True)


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


def bearer(user, expiration: int = 3600) -> dict[str, str]:
    """Return the Authorization header of a fresh JWT for the user."""
    from dataplatform.accounts.services import token_issue

    return {"HTTP_AUTHORIZATION": f"Bearer {token_issue(user=user, expiration=expiration)}"}


@pytest.fixture(autouse=True)
def _jobs_dir(settings, tmp_path):
    """Each test gets its own job and artifact directories (ids restart when a test's transaction is rolled back)."""
    settings.JOBS_DIR = tmp_path / "jobs"
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    settings.SYSTEM_ARTIFACTS_DIRS = [str(tmp_path / "system-artifacts")]


@pytest.fixture(autouse=True)
def _fresh_feature_store_caches():
    """Compiled plans and cached tables are per process; a test's rolled-back catalog must not leak."""
    from featurestore.services import catalog_refresh

    catalog_refresh()
    yield
    catalog_refresh()


_sandbox_checked: list = []


@pytest.fixture(autouse=True)
def _sandbox_or_off(settings):
    """Jobs run sandboxed wherever the sandbox can start (as root, with bubblewrap: ``make test`` sets it up).
    Elsewhere the suite runs them unsandboxed (JOB_SANDBOX=off), and the tests of the sandbox itself skip
    (``sandbox`` fixture); with PLATFORM_REQUIRE_SERVICES=1 (CI) a missing sandbox fails them instead."""
    if not _sandbox_checked:
        from jobs.sandbox import sandbox_state

        _sandbox_checked.append(sandbox_state(refresh=True))
    if not _sandbox_checked[0].ready:
        settings.JOB_SANDBOX = False


@pytest.fixture
def sandbox(settings):
    """The sandbox's state; the test is skipped (failed in CI) where it cannot start."""
    from jobs.sandbox import sandbox_state

    state = _sandbox_checked[0]
    if not state.ready:
        need_service(state.detail)
    return sandbox_state()


@pytest.fixture
def runner(transactional_db, settings):
    """A real local job runner (threads and child processes), stopped after the test."""
    from jobs.runners import start_runner, stop_runner
    from jobs.runners.local import LocalRunner

    started = start_runner(
        LocalRunner(max_running=settings.JOB_MAX_RUNNING, max_per_user=settings.JOB_MAX_RUNNING_PER_USER)
    )
    yield started
    stop_runner(timeout=15)
