"""The allocator settings every command starts with (``sublux_common.memory``): big blocks kept
in glibc's heap for reuse, unless the user set the allocator; and what frees frames' bytes."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

import pytest

from sublux_common import memory

GLIBC = (
    sys.platform.startswith("linux") and memory._libc_function("gnu_get_libc_version") is not None
)


@pytest.fixture
def fresh(monkeypatch):
    """tune_allocator as if the process had not called it yet (it acts once per process), with
    glibc's ``mallopt`` stubbed (this test process keeps its allocator): returns the calls; a
    call whose parameter is in ``refuse`` returns 0, as glibc does for a value it refuses."""
    monkeypatch.setattr(memory, "_tuned", None)

    class Calls(list):
        refuse: set

    calls = Calls()
    calls.refuse = set()

    def mallopt(param, value):
        calls.append((param, value))
        return 0 if param in calls.refuse else 1

    monkeypatch.setattr(
        memory, "_libc_function", lambda name: mallopt if name == "mallopt" else None
    )
    return calls


def test_tune_allocator_sets_glibcs_thresholds_once(fresh):
    applied = memory.tune_allocator({})
    assert applied == memory.ALLOCATOR_SETTINGS
    assert fresh == [(memory._MALLOPT[k], v) for k, v in memory.ALLOCATOR_SETTINGS.items()]
    assert fresh[0][0] == memory._MALLOPT["mmap_threshold"]  # first: the others depend on it
    assert memory.ALLOCATOR_SETTINGS["mmap_threshold"] > 40_000_000  # a 20 MP frame's image
    assert memory.tune_allocator({}) is applied and len(fresh) == 3  # once per process


def test_a_glibc_that_refuses_the_threshold_is_left_alone(fresh):
    # an older glibc caps the mmap threshold at 32 MiB: the trim and top-pad settings alone
    # would only switch its adaptive threshold off, so none is set
    fresh.refuse.add(memory._MALLOPT["mmap_threshold"])
    assert memory.tune_allocator({}) == {}
    assert fresh == [
        (memory._MALLOPT["mmap_threshold"], memory.ALLOCATOR_SETTINGS["mmap_threshold"])
    ]


@pytest.mark.parametrize(
    "environ",
    [
        {"MALLOC_MMAP_THRESHOLD_": "65536"},
        {"MALLOC_TRIM_THRESHOLD_": "0"},
        {"MALLOC_TOP_PAD_": "0"},
        {"MALLOC_MMAP_MAX_": "0"},
        {"MALLOC_ARENA_MAX": "2"},
        {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=65536"},
        {memory.DEFAULT_ALLOCATOR_ENV: "1"},
    ],
)
def test_a_users_allocator_setting_wins(fresh, environ):
    assert memory.tune_allocator(environ) == {}
    assert fresh == []


def test_other_settings_do_not_count_as_an_allocator_setting(fresh):
    environ = {"GLIBC_TUNABLES": "glibc.rtld.optional_static_tls=512", "MALLOCATE": "x"}
    environ[memory.DEFAULT_ALLOCATOR_ENV] = "0"
    assert memory.tune_allocator(environ) == memory.ALLOCATOR_SETTINGS


@pytest.mark.parametrize("command", ["capture", "curate", "dataset_card", "sublux"])
def test_every_command_starts_with_the_allocator_tuned(command):
    # python -m STAGE is the stage's command; python -m sublux runs the installed ones
    argv = ["--help"] if command != "sublux" else ["curate", "--help"]
    code = (
        f"import runpy, sys; sys.argv = ['x', *{argv!r}]\n"
        f"try:\n    runpy.run_module({command!r}, run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "from sublux_common import memory\nprint('TUNED', memory._tuned)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.pop(memory.DEFAULT_ALLOCATOR_ENV, None)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    tuned = run.stdout.strip().splitlines()[-1]
    assert tuned == f"TUNED {memory.ALLOCATOR_SETTINGS if GLIBC else {}}"


def test_release_freed_memory_collects_garbage():
    class Cycle:
        pass

    a, b = Cycle(), Cycle()
    a.other, b.other = b, a
    gc.disable()
    try:
        del a, b
        assert any(type(o) is Cycle for o in gc.get_objects())
        memory.release_freed_memory()
        assert not any(type(o) is Cycle for o in gc.get_objects())
    finally:
        gc.enable()


def test_at_exit_garbage_is_collected_once_and_the_rest_frozen():
    code = (
        "import atexit, gc, sys\n"
        "from sublux_common import memory\n"
        "atexit.register(lambda: print('FROZEN', gc.get_freeze_count() > 0))  # runs last\n"
        "n = atexit._ncallbacks()\n"
        "memory.collect_once_at_exit(); memory.collect_once_at_exit()\n"
        "print('HANDLERS', atexit._ncallbacks() - n)\n"
        "class Cycle:\n"
        "    def __del__(self):\n"
        "        print('FINALIZED')\n"
        "gc.disable()\n"
        "a = Cycle(); a.me = a; del a\n"
        "print('BEFORE', gc.get_freeze_count())\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    # the cycle's finalizer ran at exit (collected, not frozen), once; then the rest froze
    assert run.stdout.split() == ["HANDLERS", "1", "BEFORE", "0", "FINALIZED", "FROZEN", "True"]
