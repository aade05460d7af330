"""Resource limits applied to the children: memory, processes, core dumps, output volume."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mirastream.tools.execution import (
    ExecutionEvent,
    Finished,
    Limits,
    Output,
    PythonSession,
    SessionStartError,
    ShellSession,
)
from mirastream.tools.execution._launch import launch_command, user_tasks

needs_bash = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def stdout(events: list[ExecutionEvent]) -> str:
    return "".join(event.text for event in events if isinstance(event, Output) and event.stream == "stdout")


def stderr(events: list[ExecutionEvent]) -> str:
    return "".join(event.text for event in events if isinstance(event, Output) and event.stream == "stderr")


def finished(events: list[ExecutionEvent]) -> Finished:
    last = events[-1]
    assert isinstance(last, Finished)
    return last


PROBE = [
    sys.executable,
    "-c",
    "import resource as r; print(*(r.getrlimit(x)[0] for x in (r.RLIMIT_AS, r.RLIMIT_NPROC, r.RLIMIT_CORE)))",
]


def limits_of(command: list[str]) -> list[int]:
    result = subprocess.run(command, capture_output=True, text=True, check=True, timeout=30)
    return [int(value) for value in result.stdout.split()]


# The launcher ---------------------------------------------------------------------------------


def test_the_launcher_sets_the_limits_then_runs_the_command() -> None:
    address_space, processes, core = limits_of(launch_command(PROBE, max_memory_mb=512, max_processes=50))
    assert address_space == 512 * 1024 * 1024
    assert core == 0
    running = user_tasks(os.getuid())
    assert running is not None
    # `max_processes` more than the user already runs (give or take what started meanwhile).
    assert running + 50 - 30 <= processes <= running + 50 + 30


def test_the_launcher_never_loosens_an_inherited_limit() -> None:
    inner = launch_command(PROBE, max_memory_mb=4096, max_processes=None)
    address_space, processes, _ = limits_of(launch_command(inner, max_memory_mb=300, max_processes=None))
    assert address_space == 300 * 1024 * 1024
    assert processes == resource.getrlimit(resource.RLIMIT_NPROC)[0]


def test_no_limits_means_none_are_set() -> None:
    address_space, processes, _ = limits_of(launch_command(PROBE, max_memory_mb=None, max_processes=None))
    assert address_space == resource.getrlimit(resource.RLIMIT_AS)[0]
    assert processes == resource.getrlimit(resource.RLIMIT_NPROC)[0]


# Memory -----------------------------------------------------------------------------------------


def test_python_allocations_past_the_memory_limit_fail_in_the_kernel_not_the_host() -> None:
    host_limit = resource.getrlimit(resource.RLIMIT_AS)
    with PythonSession(Limits(max_memory_mb=1024)) as session:
        events = list(session.execute("block = bytearray(1536 * 1024 * 1024)"))
        assert finished(events).status == "error"
        assert (finished(events).error or "").startswith("MemoryError")
        assert (
            stdout(list(session.execute("small = bytearray(10 * 1024 * 1024); print(len(small))")))
            == "10485760\n"
        )
        assert session.alive
    assert resource.getrlimit(resource.RLIMIT_AS) == host_limit
    assert len(bytearray(64 * 1024 * 1024)) > 0  # the host is not limited


@needs_bash
def test_the_shell_and_its_programs_share_the_memory_limit() -> None:
    with ShellSession(Limits(max_memory_mb=1024)) as session:
        assert stdout(list(session.execute("ulimit -v"))) == f"{1024 * 1024}\n"
        events = list(session.execute(f"{sys.executable} -c 'bytearray(1536 * 1024 * 1024)'"))
        assert "MemoryError" in stderr(events)
        assert finished(events).status == "error"


def test_a_kernel_without_enough_memory_fails_to_start_at_once() -> None:
    session = PythonSession(Limits(max_memory_mb=64))
    started = time.monotonic()
    with pytest.raises(SessionStartError, match="max_memory_mb=64 may be too low"):
        session.start()
    assert time.monotonic() - started < 15  # not the whole start timeout
    assert not session.alive
    workdir = session.workdir
    assert workdir is not None
    session.close()
    assert not Path(workdir).exists()


def test_no_shell_on_the_path_fails_to_start() -> None:
    with (
        ShellSession(Limits(env={"PATH": "/nonexistent"})) as session,
        pytest.raises(SessionStartError, match="neither bash nor sh"),
    ):
        session.start()


# Processes and core dumps ---------------------------------------------------------------------


@needs_bash
def test_the_process_limit_and_no_core_dumps_are_set_in_the_shell() -> None:
    with ShellSession(Limits(max_processes=64)) as session:
        allowed = int(stdout(list(session.execute("ulimit -u"))))
        running = user_tasks(os.getuid()) or 0
        assert running + 64 - 40 <= allowed <= running + 64 + 40
        assert stdout(list(session.execute("ulimit -c"))) == "0\n"


@needs_bash
@pytest.mark.skipif(os.getuid() == 0, reason="RLIMIT_NPROC is not enforced for root")
def test_a_fork_bomb_hits_the_process_limit() -> None:
    with ShellSession(Limits(max_processes=20, timeout=20)) as session:
        events = list(session.execute("for i in $(seq 60); do sleep 5 & done 2>&1; wait"))
        assert "Resource temporarily unavailable" in stdout(events) + stderr(events)


# Output volume --------------------------------------------------------------------------------


@needs_bash
def test_shell_output_past_the_cap_is_dropped_with_a_note() -> None:
    with ShellSession(Limits(max_output_bytes=1000)) as session:
        events = list(session.execute("head -c 100000 /dev/zero | tr '\\0' x; echo done >&2"))
        assert stdout(events) == "x" * 1000
        assert "output truncated" in stderr(events)
        assert "done" not in stderr(events)
        assert finished(events).status == "ok"
        assert stdout(list(session.execute("echo next"))) == "next\n"  # the cap is per execution


def test_python_output_past_the_cap_is_dropped_with_a_note() -> None:
    with PythonSession(Limits(max_output_bytes=100)) as session:
        events = list(session.execute("for i in range(100):\n    print(i)\n'last value'"))
        text = stdout(events)
        assert text == "".join(f"{i}\n" for i in range(100)).encode()[:100].decode()
        assert "output truncated" in stderr(events)
        assert finished(events).status == "ok"


# Working folder ---------------------------------------------------------------------------------


@needs_bash
def test_a_missing_workdir_is_created(tmp_path: Path) -> None:
    workdir = tmp_path / "a" / "b"
    with ShellSession(Limits(workdir=workdir)) as session:
        assert stdout(list(session.execute("pwd"))) == f"{workdir}\n"
    assert workdir.is_dir()
