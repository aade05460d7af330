"""A shell as a session's child: launch, and its pipes read without threads.

The shell is `bash --noprofile --norc` (or `sh` when there is no bash on the child's
`PATH`), started through `_launch.py` (resource limits) in its own session and process
group, in the workdir, with the sanitised environment minus `BASH_ENV` and `ENV` (which
would make it run a start-up file), in a sandbox when the session has one. Its stdin
takes the control lines; stdout and stderr are pipes, read in both worlds with one
`selectors` selector; the async world waits for them with `loop.add_reader` instead of
blocking.

The async world also starts the shell with `subprocess.Popen`, not with
`asyncio.create_subprocess_exec`: asyncio's subprocess transports belong to the loop that
made them and cannot be closed once it has gone (a session closed at loop shutdown, or
dropped, would leak its pipes), and before Python 3.12 each of them costs a thread that
waits for the process. With plain pipes the cleanup is the same in both worlds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import selectors
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from ._child import Child
from ._environment import SHELL_STARTUP, child_environment, sandbox_environment
from ._errors import SessionStartError
from ._launch import launch_command
from ._sandbox import Sandbox, python_folders
from ._shell_decode import StreamName, new_marker
from ._workspace import Workspace
from .limits import Limits

READ_SIZE = 65536

Pieces = list[tuple[StreamName, bytes]]
"""What one wait read: `(stream, bytes)` pairs; empty bytes mean that stream ended."""


class ShellCommand:
    """How to start the shell for a workspace: argv, folder, environment, code file."""

    __slots__ = (
        "argv",
        "bash",
        "code_file",
        "command",
        "cwd",
        "env",
        "limits",
        "removed",
        "sandbox",
        "workspace",
    )

    def __init__(
        self,
        workspace: Workspace,
        limits: Limits,
        sandbox: Sandbox | None = None,
        removed_on_host_exit: tuple[Path, ...] = (),
    ) -> None:
        if sandbox is None:
            env = child_environment(limits, home=workspace.home)
        else:
            env = sandbox_environment(limits, home=workspace.home)
        for name in SHELL_STARTUP:
            env.pop(name, None)
        path = env.get("PATH")
        shell = shutil.which("bash", path=path)
        self.bash = shell is not None
        shell = shell or shutil.which("sh", path=path)
        if shell is None:
            raise SessionStartError(f"neither bash nor sh was found on the PATH {path!r}")
        command = [shell, "--noprofile", "--norc"] if self.bash else [shell]
        self.command = command
        self.sandbox = sandbox
        self.workspace = workspace
        self.limits = limits
        self.removed = removed_on_host_exit
        self.argv = launch_command(
            command, max_memory_mb=limits.max_memory_mb, max_processes=limits.max_processes
        )
        self.env: Mapping[str, str] = env
        self.cwd = workspace.workdir
        self.code_file: Path = workspace.run / "cell.sh"


class ShellChild(Child):
    """A running shell; its pipes are read with a selector (sync) or loop readers (async)."""

    def __init__(self, command: ShellCommand, world: Literal["sync", "async"]) -> None:
        super().__init__(world)
        self.bash = command.bash
        self.code_file = command.code_file
        self.marker = new_marker()
        if command.sandbox is None:
            self.process = subprocess.Popen(
                command.argv,
                cwd=command.cwd,
                env=command.env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=0,
                start_new_session=True,
            )
        else:
            workspace = command.workspace
            self.sandboxed = command.sandbox.launch(
                command.command,
                workdir=workspace.workdir,
                writable=(workspace.workdir, workspace.run, workspace.home),
                # The shell's own folder, and the host's Python (for `python` in the shell).
                read_only=[os.path.dirname(command.command[0]), *python_folders(None)],
                env=command.env,
                max_memory_mb=command.limits.max_memory_mb,
                max_processes=command.limits.max_processes,
                remove_on_host_exit=(workspace.root, *command.removed),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            self.process = self.sandboxed.process
        self.pid = self.process.pid
        self._selector = selectors.DefaultSelector()
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self._selector.register(self.process.stdout, selectors.EVENT_READ, "stdout")
        self._selector.register(self.process.stderr, selectors.EVENT_READ, "stderr")

    def write(self, data: bytes) -> None:
        """Write a control line to the shell's stdin (a dead shell is noticed by its pipes)."""
        assert self.process.stdin is not None
        with contextlib.suppress(OSError):
            view = memoryview(data)
            while view:
                view = view[os.write(self.process.stdin.fileno(), view) :]

    def read(self, timeout: float) -> Pieces | None:
        """What the pipes have within `timeout` seconds (blocking), or `None`."""
        if not self._selector.get_map():
            self.wait(timeout)  # both pipes ended: only the exit is left to wait for
            return None
        return self._read_ready(timeout)

    async def aread(self, timeout: float) -> Pieces | None:
        """What the pipes have within `timeout` seconds (async), or `None`."""
        pieces = self._read_ready(0)
        if pieces is not None:
            return pieces
        if not self._selector.get_map():
            await self.await_exit(timeout)
            return None
        loop = asyncio.get_running_loop()
        readable: asyncio.Future[None] = loop.create_future()
        descriptors = [key.fd for key in self._selector.get_map().values()]
        for descriptor in descriptors:
            loop.add_reader(descriptor, _wake, readable)
        try:
            await asyncio.wait_for(readable, timeout)
        except asyncio.TimeoutError:
            return None
        finally:
            for descriptor in descriptors:
                loop.remove_reader(descriptor)
        return self._read_ready(0)

    def _read_ready(self, timeout: float) -> Pieces | None:
        pieces: Pieces = []
        for key, _ in self._selector.select(timeout):
            data = os.read(key.fd, READ_SIZE)
            if not data:
                self._selector.unregister(key.fileobj)
            pieces.append((key.data, data))
        return pieces or None

    def release(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._selector.close()
        self.release_sandbox()
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
