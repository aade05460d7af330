"""What the Python and shell sessions share: lifecycle, drivers, cleanup.

A session owns a `Workspace` (kept across restarts of its child, removed on close) and at
most one `Child` at a time. A subclass says how to launch a child (for either world), how
to receive from it (`_receive`/`_areceive`, the only IO), and what starting and running
code mean (flows, see `_flow`; what running code is alike in both kinds is in `_running`).
This class drives the flows, restarts a child that died, stops abandoned runs, and
guarantees cleanup: `close()`, `aclose()`, or, for a session dropped without either, a
`weakref.finalize` that kills the process group.

Starting is safe against concurrent starts: a start that finds another under way (in
another thread, or another task of the loop) waits for it instead of launching a second
child. `background_start()` makes a start meant for a thread or a task (to have the child
ready before the first execution); its failure is kept for the next `start()`, and closing
the session aborts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import ClassVar, TypeVar

from ._child import KILL_WAIT, BackgroundStart, Child, Start, World, closed_while_starting
from ._control import RunControl
from ._flow import Emit, Flow, Receive, WaitExit, arun, astream, cancelled, run, stream
from ._sandbox import Sandbox
from ._workspace import Workspace
from .events import ExecutionEvent, Output
from .limits import Limits

S = TypeVar("S", bound="Session")

_DEFAULT_LIMITS = Limits()


class _Resources:
    """What a session must clean up, kept apart from it for `weakref.finalize`."""

    __slots__ = ("child", "workspace")

    def __init__(self) -> None:
        self.child: Child | None = None
        self.workspace: Workspace | None = None

    def release(self) -> None:
        """Kill the child's group, reap it if possible, close its IO, remove the folders."""
        child, self.child = self.child, None
        if child is not None:
            with contextlib.suppress(Exception):
                child.kill()
                child.wait(1.0)
            with contextlib.suppress(Exception):
                child.release()
        workspace, self.workspace = self.workspace, None
        if workspace is not None:
            workspace.remove()


class Session(ABC):
    """A persistent child process that runs code; see `PythonSession` and `ShellSession`.

    How a session may be used (worlds, threads, context managers) is said once for both, in
    the package docs (`mirastream.tools.execution`).

    Args:
        limits: how long, how big and where the code may run.
        sandbox: run the child in a sandbox (Linux; see `_sandbox` and docs/security.md):
            `SandboxUnavailableError` is raised here when none can be built.
        network: in a sandbox, share the host's network (otherwise there is none).
    """

    language: ClassVar[str]
    _state_lost: ClassVar[str] = "earlier state is lost"
    """What a restart loses, e.g. "earlier variables and imports are lost"."""

    def __init__(
        self, limits: Limits = _DEFAULT_LIMITS, *, sandbox: bool = True, network: bool = False
    ) -> None:
        if not isinstance(limits, Limits):
            raise TypeError(f"limits must be a Limits, not {type(limits).__name__}")
        self.limits = limits
        self.sandbox = Sandbox(network=network) if sandbox else None
        self.network = network
        self.removed_on_host_exit: tuple[Path, ...] = ()
        """Folders (besides its own) that a sandbox removes if the host dies (not on close)."""
        self._resources = _Resources()
        self._finalizer = weakref.finalize(self, self._resources.release)
        self._current: tuple[Flow[None], Child] | None = None
        self._control: RunControl | None = None
        self._in_io = False
        self._lost = False
        self._start_lock = threading.RLock()  # held by a sync start
        self._astarting: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None
        self._attempt: Start | None = None  # the start under way
        self._failure: Exception | None = None  # of a background start, for the next start
        self._closes = 0

    def __repr__(self) -> str:
        state = "alive" if self.alive else "stopped"
        return f"{type(self).__name__}({state}, limits={self.limits!r}, sandbox={self.sandbox!r})"

    # What a session kind provides --------------------------------------------------------

    @abstractmethod
    def _launch(self, workspace: Workspace, world: World) -> Child:
        """Start a child for `world` (it is not ready yet); an async one in the running loop."""

    @abstractmethod
    def _start_flow(self, child: Child) -> Flow[None]:
        """Make a launched child ready; raise `SessionStartError` if it cannot be."""

    @abstractmethod
    def _execute_flow(self, child: Child, code: str, control: RunControl) -> Flow[None]:
        """Run `code`, emitting its events, and end with exactly one `Finished`."""

    @abstractmethod
    def _receive(self, child: Child, step: Receive) -> object:
        """Perform a `Receive` step with blocking IO."""

    @abstractmethod
    async def _areceive(self, child: Child, step: Receive) -> object:
        """Perform a `Receive` step with async IO."""

    # State -------------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        """Whether the child runs (the session is started and its child has not died)."""
        child = self._resources.child
        return child is not None and not child.closed and child.poll() is None

    @property
    def starting(self) -> bool:
        """Whether a start of the child is under way (in some thread or task)."""
        return self._attempt is not None

    @property
    def workdir(self) -> str | None:
        """The child's working folder, once the session has started."""
        workspace = self._resources.workspace
        return None if workspace is None else str(workspace.workdir)

    def _child_for(self, world: World) -> Child | None:
        child = self._resources.child
        if child is not None and child.world != world:
            other = "execute()/start()" if child.world == "sync" else "aexecute()/astart()"
            raise RuntimeError(
                f"this {type(self).__name__} was started with {other}: use one world (sync or async) "
                "per session, or close it first"
            )
        if child is not None and child.foreign():
            raise RuntimeError(
                f"this {type(self).__name__} was started in another event loop: use a session in one "
                "loop, or close it first"
            )
        return child

    # Sync --------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the child if it is not running (a dead one is replaced); idempotent.

        Safe from any thread: a start under way in another thread (a `background_start()`,
        say) is waited for, not repeated.

        Raises:
            SessionStartError: the child could not be started (also when a background start
                failed before: its failure is raised here, once).
        """
        self._start(Start())

    def background_start(self) -> BackgroundStart:
        """A start of the child to run in a thread (`run()`) or a task (`arun()`)."""
        return BackgroundStart(self)

    def _start(self, attempt: Start) -> None:
        with self._start_lock:
            if self.alive:
                self._child_for("sync")
                return
            if self._take_failure(attempt):
                return
            self._attempt = attempt
            try:
                self._start_child(attempt)
            finally:
                self._attempt = None

    def _start_child(self, attempt: Start) -> None:
        self._lost = self._lost or self._resources.child is not None
        self._drop_child()
        if attempt.cancelled:  # closed while the dead child was reaped
            raise closed_while_starting()
        child = self._resources.child = self._launch(self._workspace(), "sync")
        try:
            attempt.launched(child)
            run(self._start_flow(child), partial(self._perform, child))
            attempt.finish()
        except BaseException:
            self._drop_child()
            raise

    def execute(self, code: str) -> Iterator[ExecutionEvent]:
        """Run `code` in the session and stream its events as they are produced.

        Starts the session if needed (also after its child died: the first event is then
        a note that earlier state is lost). The events end with exactly one `Finished`.
        Closing the iterator early (`break` then `close()`, or dropping it) stops the code:
        it is interrupted, then killed after `Limits.grace`; the session stays usable.
        """
        _check_code(code)
        return self._execute(code)

    def _execute(self, code: str) -> Iterator[ExecutionEvent]:
        self._supersede()
        self.start()
        child = self._resources.child
        assert child is not None
        flow = self._run(child, code)
        self._current = (flow, child)
        yield from stream(flow, partial(self._perform, child), partial(self._kill_now, child))

    def interrupt(self) -> None:
        """Interrupt the running execution (`SIGINT`), as Ctrl-C would; safe from any thread.

        It finishes with status `"interrupted"`, or `"killed"` if it does not stop within
        `Limits.grace`. Does nothing when no code runs.
        """
        control, child = self._control, self._resources.child
        if control is not None and child is not None and control.stop(time.monotonic(), "interrupted"):
            child.interrupt()

    def close(self) -> None:
        """Stop the child and its whole process group and remove a temporary workdir; idempotent.

        Code still running is killed (its execution, if iterated later, finishes with
        `"killed"`); a start under way in another thread fails at once (a background one
        quietly). The session can be started again afterwards.
        """
        self._begin_close()
        with self._start_lock:  # a start under way in another thread gives up first
            child = self._resources.child
            if child is not None:
                child.closing = True
                child.kill()
                child.wait(KILL_WAIT)
                with child.lock:
                    child.release()
            self._close_resources()

    def __enter__(self: S) -> S:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # Async -------------------------------------------------------------------------------

    async def astart(self) -> None:
        """Start the child if it is not running (a dead one is replaced); idempotent.

        A start under way in another task of the loop (a `background_start()`, say) is
        awaited, not repeated.

        Raises:
            SessionStartError: the child could not be started (also when a background start
                failed before: its failure is raised here, once).
        """
        await self._astart(Start())

    async def _astart(self, attempt: Start) -> None:
        loop = asyncio.get_running_loop()
        while (starting := self._starting_in(loop)) is not None:
            await starting.wait()  # (its child counts as alive already, but is not ready)
        if self.alive:
            self._child_for("async")
            return
        if self._take_failure(attempt):
            return
        done = asyncio.Event()
        self._astarting = (loop, done)
        self._attempt = attempt
        try:
            await self._astart_child(attempt)
        finally:
            self._attempt = None
            self._astarting = None
            done.set()

    async def _astart_child(self, attempt: Start) -> None:
        self._lost = self._lost or self._resources.child is not None
        await self._adrop_child()
        if attempt.cancelled:  # closed while the dead child was reaped
            raise closed_while_starting()
        child = self._resources.child = self._launch(self._workspace(), "async")
        try:
            attempt.launched(child)
            await arun(self._start_flow(child), partial(self._aperform, child))
            attempt.finish()
        except BaseException:
            await self._adrop_child()
            raise

    def _starting_in(self, loop: asyncio.AbstractEventLoop) -> asyncio.Event | None:
        """The end of an async start under way in `loop`, if any."""
        starting = self._astarting
        if starting is None or starting[0] is not loop:
            return None  # none, or one of a loop that is gone (use one loop per session)
        return starting[1]

    def aexecute(self, code: str) -> AsyncIterator[ExecutionEvent]:
        """Run `code` and stream its events as they are produced (async); see `execute()`.

        Cancelling the consuming task, or closing the iterator early, stops the code: it is
        interrupted, then killed after `Limits.grace`, before the cancellation completes.
        """
        _check_code(code)
        return self._aexecute(code)

    async def _aexecute(self, code: str) -> AsyncIterator[ExecutionEvent]:
        await self._asupersede()
        await self.astart()
        child = self._resources.child
        assert child is not None
        flow = self._run(child, code)
        self._current = (flow, child)
        events = astream(flow, partial(self._aperform, child), partial(self._kill_now, child))
        # `aclosing`: a stop ends the run (and stops the code) now, not in a finaliser's task.
        async with contextlib.aclosing(events):
            async for event in events:
                yield event

    async def aclose(self) -> None:
        """Stop the child and its whole process group and remove a temporary workdir; idempotent.

        A start under way in another task fails at once (a background one quietly).
        """
        self._begin_close()
        starting = self._starting_in(asyncio.get_running_loop())
        if starting is not None:
            await starting.wait()  # the start gives up first
        child = self._resources.child
        if child is not None:
            child.closing = True
            child.kill()
            if child.foreign():
                child.release()  # its loop is gone or elsewhere: nothing of it can be awaited here
            else:
                await child.await_exit(KILL_WAIT)
                async with self._alock(child):
                    child.release()
        self._close_resources()

    async def __aenter__(self: S) -> S:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # Shared machinery --------------------------------------------------------------------

    def _run(self, child: Child, code: str) -> Flow[None]:
        if self._lost:
            self._lost = False
            note = f"[mirastream] the {self.language} session was restarted: {self._state_lost}\n"
            yield Emit(Output("stderr", note))
        control = self._control = RunControl(self.limits, time.monotonic())
        try:
            yield from self._execute_flow(child, code, control)
        finally:
            if self._control is control:
                self._control = None
            if child.closed or child.poll() is not None:
                self._lost = self._lost or self._resources.child is child

    def _perform(self, child: Child, step: Receive | WaitExit) -> object:
        self._in_io = True
        try:
            if isinstance(step, WaitExit):
                return child.wait(step.timeout)
            with child.lock:
                return None if child.closed else self._receive(child, step)
        finally:
            self._in_io = False

    async def _aperform(self, child: Child, step: Receive | WaitExit) -> object:
        self._in_io = True
        try:
            if isinstance(step, WaitExit):
                return await child.await_exit(step.timeout)
            async with self._alock(child):
                return None if child.closed else await self._areceive(child, step)
        finally:
            self._in_io = False

    @staticmethod
    def _alock(child: Child) -> asyncio.Lock:
        if child.alock is None:
            child.alock = asyncio.Lock()
        return child.alock

    def _kill_now(self, child: Child) -> None:
        """The last resort when stopping code failed: kill its group, restart on next use."""
        child.kill()
        self._lost = self._lost or self._resources.child is child

    def _abandoned(self) -> tuple[Flow[None], Child] | None:
        """An earlier execution whose consumer stopped iterating without closing it."""
        current = self._current
        if current is None or inspect.getgeneratorstate(current[0]) != inspect.GEN_SUSPENDED:
            self._current = None
            return None
        if self._in_io:
            raise RuntimeError(f"another execution is running in this {type(self).__name__}")
        self._current = None
        return current

    def _supersede(self) -> None:
        abandoned = self._abandoned()
        if abandoned is not None:
            flow, child = abandoned
            run(cancelled(flow), partial(self._perform, child))

    async def _asupersede(self) -> None:
        abandoned = self._abandoned()
        if abandoned is not None:
            flow, child = abandoned
            await arun(cancelled(flow), partial(self._aperform, child))

    def _take_failure(self, attempt: Start) -> bool:
        """Before a start: raise a background start's failure (`True`: do not start at all)."""
        if attempt.aborted:
            return True  # a background start cancelled, or whose session was closed, meanwhile
        failure, self._failure = self._failure, None
        if failure is not None and not attempt.background:
            raise failure
        return False

    def _keep_failure(self, attempt: Start, error: Exception) -> None:
        if not attempt.aborted:
            self._failure = error

    def _begin_close(self) -> None:
        """Stop what runs now: a start under way, running code, the child (no waiting)."""
        self._closes += 1
        self._failure = None
        attempt = self._attempt
        if attempt is not None:
            attempt.abort()
        child = self._resources.child
        if child is not None:
            if self._control is not None:
                self._control.kill("closed")
            child.closing = True
            child.kill()

    def _workspace(self) -> Workspace:
        if self._resources.workspace is None:
            self._resources.workspace = Workspace(self.limits)
        return self._resources.workspace

    def _drop_child(self) -> None:
        """Reap and release a dead (or failed) child, keeping the workspace."""
        child = self._resources.child
        if child is None:
            return
        child.kill()
        child.wait(KILL_WAIT)
        with child.lock:
            child.release()
        self._resources.child = None

    async def _adrop_child(self) -> None:
        child = self._resources.child
        if child is None:
            return
        child.kill()
        if child.foreign():
            child.release()
        else:
            await child.await_exit(KILL_WAIT)
            async with self._alock(child):
                child.release()
        self._resources.child = None

    def _close_resources(self) -> None:
        self._resources.release()
        self._current = None
        self._control = None
        self._lost = False


def _check_code(code: object) -> None:
    if not isinstance(code, str):
        raise TypeError(f"code must be a str, not {type(code).__name__}")
