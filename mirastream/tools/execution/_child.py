"""A session's child process and the starts that launch it (see `_session`)."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Literal

from ._errors import SessionStartError
from ._process import interrupt_group, kill_group

if TYPE_CHECKING:
    from ._sandbox import SandboxedProcess
    from ._session import Session

World = Literal["sync", "async"]

KILL_WAIT = 5.0
"""Seconds to wait for a killed child to be reaped."""


class Child(ABC):
    """One child process of a session (started in its own process group) and its IO.

    In a sandbox, `process` is the sandbox's keeper and `sandboxed` its handles: signals
    then go to the sandbox (see `_sandbox`).
    """

    pid: int
    process: subprocess.Popen[bytes]
    sandboxed: SandboxedProcess | None = None

    def __init__(self, world: World) -> None:
        self.world = world
        self.closed = False
        self.closing = False  # the session is closing it (a start in progress then fails)
        self.lock = threading.Lock()  # held while a sync wait uses the child's IO
        self.alock: asyncio.Lock | None = None  # the same, for the async world
        # An async child's IO belongs to the event loop that started it.
        self.loop = asyncio.get_running_loop() if self.world == "async" else None

    def foreign(self) -> bool:
        """Whether this is an async child of an event loop other than the running one."""
        if self.loop is None:
            return False
        try:
            return asyncio.get_running_loop() is not self.loop
        except RuntimeError:
            return True

    def poll(self) -> int | None:
        """The return code if the process has ended, else `None`."""
        return self.process.poll()

    def wait(self, timeout: float) -> int | None:
        """Wait (blocking) for the process to end; its return code, or `None`."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    async def await_exit(self, timeout: float) -> int | None:
        """Wait (async) for the process to end; its return code, or `None`."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return self.process.returncode

    @abstractmethod
    def release(self) -> None:
        """Close the IO (sockets, pipes) without waiting; safe to call twice."""

    def release_sandbox(self) -> None:
        """Close the host's handles on the sandbox, if any (part of `release()`)."""
        if self.sandboxed is not None:
            self.sandboxed.release()

    def interrupt(self) -> None:
        """`SIGINT` to the child's process group (in a sandbox: to the code's group inside)."""
        if self.poll() is None:
            if self.sandboxed is not None:
                self.sandboxed.interrupt()
            else:
                interrupt_group(self.pid)

    def kill(self) -> None:
        """`SIGKILL` to the child's process group (also to what it left running).

        The group is signalled even when its leader has exited, since what the leader
        started may still run in it. In a sandbox, killing its init ends every process
        inside, also those that left the group (daemons).
        """
        if self.sandboxed is not None:
            self.sandboxed.kill()
        else:
            kill_group(self.pid)


class Start:
    """One start of a session's child under way; `abort()` (from any thread) makes it fail."""

    __slots__ = ("_lock", "cancelled", "child", "finished")
    background = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.cancelled = False
        self.finished = False
        self.child: Child | None = None

    @property
    def aborted(self) -> bool:
        """Whether this start should not happen (or go on)."""
        return self.cancelled

    def launched(self, child: Child) -> None:
        """Note the child this start launched (an abort from now on stops it)."""
        with self._lock:
            self.child = child
            if self.cancelled:
                child.closing = True  # aborted while launching: the start flow fails at once

    def finish(self) -> None:
        """The child is ready: the start is over, unless it was aborted meanwhile."""
        with self._lock:
            self.finished = True
            if self.cancelled:
                raise closed_while_starting()

    def abort(self) -> None:
        """Make the start fail and stop the child it launched; nothing once it is over."""
        with self._lock:
            if self.finished:
                return
            self.cancelled = True
            child = self.child
        if child is not None:
            child.closing = True
            child.kill()


class BackgroundStart(Start):
    """A start of a session's child for the background: `run()` in a thread, `arun()` in a task.

    Made by `Session.background_start()`. A `start()` or `execute()` (`astart()`,
    `aexecute()`) that comes meanwhile waits for it instead of launching a second child.
    Nothing is raised or printed here: a failure is kept, and the next `start()` or
    `execute()` raises it (once). `cancel()`, or closing the session, aborts the start
    quietly (a child it launched is stopped).
    """

    __slots__ = ("_closes", "_session")
    background = True

    def __init__(self, session: Session) -> None:
        super().__init__()
        self._session = session
        self._closes = session._closes

    @property
    def aborted(self) -> bool:
        """Whether it was cancelled, or the session was closed since it was made."""
        return self.cancelled or self._session._closes != self._closes

    def run(self) -> None:
        """Start the child (blocking) unless it runs already; returns when it is ready."""
        try:
            self._session._start(self)
        except Exception as error:  # reported by the next start(), as if it had failed there
            self._session._keep_failure(self, error)

    async def arun(self) -> None:
        """Start the child in the running event loop unless it runs already; see `run()`."""
        try:
            await self._session._astart(self)
        except Exception as error:  # reported by the next astart(), as if it had failed there
            self._session._keep_failure(self, error)

    def cancel(self) -> None:
        """Abort the start, from any thread; a child that is ready already is kept."""
        self.abort()


def closed_while_starting() -> SessionStartError:
    return SessionStartError("the session was closed while its child was starting")
