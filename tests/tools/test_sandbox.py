"""The sandbox's own behaviour: its environment, the workspace, IPC only, and where it cannot be built.

The attacks themselves are in `test_containment`.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest

from mirastream.tools import CodeInterpreter
from mirastream.tools.execution import ExecutionEvent, Limits, Output, PythonSession, ShellSession
from mirastream.tools.execution._environment import sandbox_environment
from mirastream.tools.execution._sandbox import Sandbox

from ..no_userns import without_user_namespaces
from .test_containment import running, settled

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox is Linux's")


class Runs(Protocol):
    def execute(self, code: str) -> Iterator[ExecutionEvent]: ...


def printed(session: Runs, code: str) -> str:
    return "".join(event.text for event in session.execute(code) if isinstance(event, Output))


def test_the_environment_is_an_allow_list_plus_what_is_asked(tmp_path: Path) -> None:
    host = {
        "PATH": "/usr/bin",
        "LANG": "en_GB.UTF-8",
        "LC_TIME": "C",
        "TERM": "xterm",
        "HOME": "/home/me",
        "DATABASE_URL": "postgres://app:pw@db/app",
        "GH_PAT": "ghp_x",
        "PYTHONPATH": "/home/me/project",
        "SHOWN": "asked for",
    }
    env = sandbox_environment(Limits(keep_env=["SHOWN"]), home=tmp_path, host=host)
    assert env == {
        "PATH": "/usr/bin",
        "LANG": "en_GB.UTF-8",
        "LC_TIME": "C",
        "TERM": "xterm",
        "HOME": str(tmp_path),
        "SHOWN": "asked for",
    }
    given = sandbox_environment(Limits(env={"ONLY": "this"}), home=tmp_path, host=host)
    assert given == {"ONLY": "this", "HOME": str(tmp_path), "PATH": "/usr/bin", "LANG": "en_GB.UTF-8"}


def test_python_and_shell_share_a_named_workspace_that_is_kept(tmp_path: Path) -> None:
    workdir = tmp_path / "analysis"
    interpreter = CodeInterpreter(limits=Limits(workdir=workdir, timeout=20))
    try:
        assert interpreter.workspace == workdir.resolve()
        python = interpreter.session("python")
        assert printed(python, "import os\nopen('from_python.txt', 'w').write('42')\nprint(os.getcwd())") == (
            f"{workdir.resolve()}\n"
        )
        shell = interpreter.session("shell")
        assert printed(shell, "cat from_python.txt; echo shell > from_shell.txt") == "42"
    finally:
        interpreter.close()
    assert (workdir / "from_shell.txt").read_text() == "shell\n"  # named folders are kept


def test_the_kernel_talks_over_ipc_only() -> None:
    with PythonSession(Limits(timeout=20)) as session:
        text = printed(
            session,
            "import json, sys\n"
            "info = json.load(open(sys.argv[sys.argv.index('-f') + 1]))\n"
            "print(info['transport'], sorted(name for name in info if name.endswith('_port')))\n"
            "print(open('/proc/net/tcp').read().count('\\n') - 1, 'tcp sockets')",
        )
    transport, ports = text.splitlines()[0].split(" ", 1)
    assert transport == "ipc"
    assert "shell_port" in ports
    # Only ipykernel's own loopback pipe, in the sandbox's network namespace.
    assert text.splitlines()[1] in {"0 tcp sockets", "1 tcp sockets"}


def test_what_a_dead_kernel_started_dies_with_it() -> None:
    marker = str(900000 + secrets.randbelow(99999))
    with PythonSession(Limits(timeout=20)) as session:
        code = (
            f"import os, subprocess\nsubprocess.Popen(['sleep', '{marker}'], start_new_session=True)\n"
            "print('started', flush=True)\nos.kill(os.getpid(), 9)"
        )
        assert "started" in printed(session, code)
        assert settled(lambda: not running(marker))  # the kernel died: its sandbox went with it
        assert printed(session, "print('again')").endswith("again\n")  # a new kernel
    assert not running(marker)


def test_where_no_sandbox_can_be_built_the_error_names_the_opt_out() -> None:
    # Inside a sandbox that forbids user namespaces, no further sandbox can be built.
    script = (
        "from mirastream.tools import CodeInterpreter\n"
        "from mirastream.tools.execution import SandboxUnavailableError\n"
        "try:\n    CodeInterpreter()\nexcept SandboxUnavailableError as error:\n    print(error)\n"
        "interpreter = CodeInterpreter(sandbox=False, prewarm=False)\n"
        "events = interpreter.session('shell').execute('echo uncontained')\n"
        "print([event.text for event in events if hasattr(event, 'text')])\n"
        "interpreter.close()\n"
    )
    command = without_user_namespaces()
    command += ["--", sys.executable, "-c", script]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    message, ran = done.stdout.splitlines()[-2:]
    assert "no sandbox for model-written code can be built here" in message
    assert "pass sandbox=False" in message
    assert ran == "['uncontained\\n']"


def test_tmp_and_shm_are_capped_at_the_memory_limit() -> None:
    with ShellSession(Limits(max_memory_mb=64, timeout=20)) as session:
        events = list(
            session.execute("for d in /tmp /dev/shm; do dd if=/dev/zero of=$d/big bs=1M count=80; done")
        )
        errors = "".join(
            event.text for event in events if isinstance(event, Output) and event.stream == "stderr"
        )
        assert errors.count("No space left on device") == 2
        assert printed(session, "du -m /tmp/big /dev/shm/big | cut -f1 | tr '\\n' ' '") == "64 64 "


def test_read_only_folders_never_open_or_hide_the_workspace(tmp_path: Path) -> None:
    # A read-only folder that holds the workspace (a project on PYTHONPATH, say) and one
    # inside it (a virtualenv in the working folder).
    outer = tmp_path / "project"
    workdir = outer / "work"
    venv = workdir / "venv"
    venv.mkdir(parents=True)
    (outer / "setup.py").write_text("# the project")
    sandbox = Sandbox()
    script = "touch made; touch venv/made 2>&1; touch ../made 2>&1; cat ../setup.py"
    argv = sandbox.argv(
        ["sh", "-c", script], workdir=workdir, writable=[workdir], read_only=[str(outer), str(venv)]
    )
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert (workdir / "made").exists()
    assert not (venv / "made").exists() and not (outer / "made").exists()
    assert done.stdout.count("Read-only file system") == 2
    assert done.stdout.endswith("# the project")
