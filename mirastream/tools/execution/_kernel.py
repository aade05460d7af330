"""An IPython kernel as a session's child: launch, connection, and IO.

The kernel runs the host's own interpreter (`sys.executable`, which must have `ipykernel`)
through `_launch.py` (resource limits), in its own session and process group, in the
workdir, with the sanitised environment, in a sandbox when the session has one (which
sees the session's `run/` folder at the same path). Its sockets use the IPC transport
(files in the session's private `run/` folder, next to the connection file), never TCP,
so nothing on the network or in another user's reach can talk to it. Without a sandbox
`JPY_PARENT_PID` makes the kernel exit by itself if the host dies (in one, the keeper
ends the sandbox). The kernel's own stdout and stderr go to a log file in `run/`, quoted
when it fails to start.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import os
import re
import secrets
import site
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..._clients import require_module
from ._child import Child
from ._environment import child_environment, sandbox_environment
from ._launch import launch_command
from ._sandbox import Sandbox, python_folders
from ._workspace import Workspace
from .limits import Limits

if TYPE_CHECKING:
    import zmq
    from jupyter_client.asynchronous.client import AsyncKernelClient
    from jupyter_client.blocking.client import BlockingKernelClient

# Packages the kernel imports at start; if the host finds them outside the standard
# locations (through PYTHONPATH, say), the kernel gets those folders on its PYTHONPATH.
_KERNEL_PACKAGES = (
    "ipykernel",
    "IPython",
    "zmq",
    "jupyter_client",
    "jupyter_core",
    "traitlets",
    "tornado",
    "comm",
)

_numbers = itertools.count(1)

_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b")


def kernel_python_path(current: str | None) -> str | None:
    """The `PYTHONPATH` the kernel needs to import `ipykernel` as the host does."""
    standard = {os.path.realpath(path) for path in (*site.getsitepackages(), site.getusersitepackages())}
    standard |= {os.path.realpath(path) for path in sysconfig.get_paths().values()}
    listed = [path for path in (current or "").split(os.pathsep) if path]
    needed: list[str] = []
    for name in _KERNEL_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        folder = os.path.dirname(spec.origin)
        if spec.submodule_search_locations is not None:  # a package: its parent folder
            folder = os.path.dirname(folder)
        folder = os.path.realpath(folder)
        if folder not in standard and folder not in listed and folder not in needed:
            needed.append(folder)
    return os.pathsep.join(needed + listed) if needed else current


def _launcher_script() -> str:
    # Run by path, not with -m: the first sys.path entry is then ipykernel's folder, not
    # the workdir, so files the code wrote there cannot shadow the kernel's own imports.
    spec = importlib.util.find_spec("ipykernel_launcher")
    if spec is None or spec.origin is None:
        require_module("ipykernel", extra="code")  # raises the install hint
        raise ModuleNotFoundError("ipykernel_launcher")
    return spec.origin


class KernelChild(Child):
    """A launched kernel process with a connected client (blocking or async)."""

    def __init__(
        self,
        workspace: Workspace,
        limits: Limits,
        world: Literal["sync", "async"],
        sandbox: Sandbox | None = None,
        removed_on_host_exit: tuple[Path, ...] = (),
    ) -> None:
        super().__init__(world)
        require_module("jupyter_client", extra="code")
        from jupyter_client.connect import write_connection_file

        number = next(_numbers)
        self._run_folder = workspace.run
        self._prefix = f"kernel-{os.getpid()}-{number}"
        self.connection_file = workspace.run / f"{self._prefix}.json"
        self.log_file = workspace.run / f"{self._prefix}.log"
        self._log_size = 0
        _, info = write_connection_file(
            str(self.connection_file),
            transport="ipc",
            ip=str(workspace.run / self._prefix),
            key=secrets.token_hex(32).encode(),
        )
        if sandbox is None:
            env = child_environment(limits, home=workspace.home)
            env["JPY_PARENT_PID"] = str(os.getpid())
        else:
            env = sandbox_environment(limits, home=workspace.home)
        python_path = kernel_python_path(env.get("PYTHONPATH"))
        if python_path:
            env["PYTHONPATH"] = python_path
        command = [
            sys.executable,
            _launcher_script(),
            "-f",
            str(self.connection_file),
            "--HistoryManager.hist_file=:memory:",
        ]
        with open(self.log_file, "wb") as log:
            if sandbox is None:
                argv = launch_command(
                    command, max_memory_mb=limits.max_memory_mb, max_processes=limits.max_processes
                )
                self.process = subprocess.Popen(
                    argv,
                    cwd=workspace.workdir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            else:
                self.sandboxed = sandbox.launch(
                    command,
                    workdir=workspace.workdir,
                    writable=(workspace.workdir, workspace.run, workspace.home),
                    read_only=python_folders(python_path),
                    env=env,
                    max_memory_mb=limits.max_memory_mb,
                    max_processes=limits.max_processes,
                    remove_on_host_exit=(workspace.root, *removed_on_host_exit),
                    stdin=subprocess.DEVNULL,
                    stdout=log.fileno(),
                    stderr=subprocess.STDOUT,
                )
                self.process = self.sandboxed.process
        self.pid = self.process.pid
        try:
            self.context, self.client = _connect(info, world)
        except BaseException:
            self.kill()
            self.process.wait()
            self.release_sandbox()
            raise

    def release(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.context.destroy(linger=0)
        self.release_sandbox()
        for path in self._run_folder.glob(f"{self._prefix}*"):
            with contextlib.suppress(OSError):
                path.unlink()

    def log_tail(self, lines: int = 20) -> str:
        """The end of the kernel's own output (its start-up errors)."""
        try:
            text = Path(self.log_file).read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    def start_failure(self) -> str | None:
        """The traceback a kernel that failed to start printed, if it did.

        A kernel that cannot start a thread (too little memory) raises but does not exit:
        its log then ends with the exception, which ends the wait at once.
        """
        try:
            size = self.log_file.stat().st_size
        except OSError:
            return None
        if size == self._log_size:
            return None
        self._log_size = size
        tail = self.log_tail()
        last = tail.splitlines()[-1] if tail else ""
        if "Traceback (most recent call last)" in tail and _EXCEPTION_LINE.match(last):
            return tail
        return None


def _connect(
    info: object, world: Literal["sync", "async"]
) -> tuple[zmq.Context[Any], BlockingKernelClient | AsyncKernelClient]:
    import zmq
    import zmq.asyncio
    from jupyter_client.asynchronous.client import AsyncKernelClient
    from jupyter_client.blocking.client import BlockingKernelClient

    context: zmq.Context[Any]
    client: BlockingKernelClient | AsyncKernelClient
    if world == "sync":
        context = zmq.Context()
        client = BlockingKernelClient(context=context)
    else:
        context = zmq.asyncio.Context()
        client = AsyncKernelClient(context=context)
    try:
        client.load_connection_info(info)  # type: ignore[arg-type]
        client.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=False)
    except BaseException:
        context.destroy(linger=0)
        raise
    return context, client
