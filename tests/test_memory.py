"""A server process's C allocator (``dataplatform.memory``): glibc's malloc set up, its free memory given back."""

import ctypes
import platform

import pytest

from dataplatform import memory
from dataplatform.startup import _hooks
from tests.waiting import eventually

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim and mallopt are glibc's")


class FakeLibc:
    """Records the calls ``dataplatform.memory`` makes to the C library."""

    def __init__(self) -> None:
        self.trims: list[int] = []
        self.options: list[tuple[int, int]] = []

    def malloc_trim(self, pad: int) -> int:
        self.trims.append(pad)
        return 1

    def mallopt(self, option: int, value: int) -> int:
        self.options.append((option, value))
        return 1


@pytest.fixture
def libc(monkeypatch):
    """A fake glibc in place of the real one; the trimmer stopped before and after."""
    memory.stop_memory_trimmer()
    fake = FakeLibc()
    monkeypatch.setattr(memory, "_libc", fake)
    monkeypatch.setattr(memory, "_looked_up", True)
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    yield fake
    memory.stop_memory_trimmer()


@glibc_only
def test_free_memory_is_released_on_glibc(monkeypatch):
    monkeypatch.setattr(memory, "_looked_up", False)
    monkeypatch.setattr(memory, "_libc", None)
    assert memory.release_free_memory() is True


def test_malloc_gets_two_arenas_and_a_fixed_mmap_threshold(libc, settings, monkeypatch):
    settings.MEMORY_MALLOC_ARENAS = 2
    assert memory.configure_malloc() == {"arena_max": 2, "mmap_threshold": 128 * 1024}
    assert libc.options == [(memory.M_ARENA_MAX, 2), (memory.M_MMAP_THRESHOLD, 128 * 1024)]


def test_glibcs_own_environment_and_a_0_setting_win(libc, settings, monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    assert memory.configure_malloc() == {} and libc.options == []
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    settings.MEMORY_MALLOC_ARENAS = 0
    assert memory.configure_malloc() == {} and libc.options == []


def test_the_trimmer_releases_every_interval_until_stopped(libc, settings):
    settings.MEMORY_TRIM_INTERVAL = 0.01
    assert memory.start_memory_trimmer() is True
    assert memory.start_memory_trimmer() is True  # once per process: still one thread
    eventually(lambda: len(libc.trims) >= 3, message="the trimmer did not release memory")
    assert set(libc.trims) == {0}  # malloc_trim(0): every arena, all of its free pages
    thread = memory._thread
    memory.stop_memory_trimmer()
    assert not thread.is_alive()


def test_an_interval_of_0_starts_nothing(libc, settings):
    settings.MEMORY_TRIM_INTERVAL = 0
    assert memory.start_memory_trimmer() is False and memory._thread is None


def test_without_glibc_nothing_is_done(settings, monkeypatch):
    class NotGlibc:  # a C library without malloc_trim and mallopt (musl, macOS)
        def __init__(self, name):
            pass

    memory.stop_memory_trimmer()
    monkeypatch.setattr(memory, "_looked_up", False)
    monkeypatch.setattr(memory, "_libc", None)
    monkeypatch.setattr(ctypes, "CDLL", NotGlibc)
    settings.MEMORY_TRIM_INTERVAL = 60
    assert memory.release_free_memory() is False
    assert memory.configure_malloc() == {}
    assert memory.start_memory_trimmer() is False and memory._thread is None


def test_a_server_process_sets_it_up_before_the_other_hooks_start_threads(settings):
    assert next(iter(_hooks)) == "memory"  # the first hook: malloc is set up before the runner's threads
    hook = _hooks["memory"]
    assert hook.function is memory.memory_at_server_start and hook.enabled()
    settings.MEMORY_MALLOC_ARENAS = 0
    settings.MEMORY_TRIM_INTERVAL = 0
    assert not hook.enabled()
