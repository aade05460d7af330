"""`CodeInterpreter`: a tool that lets the model run Python or shell code on this machine.

The code runs in a child process (a Jupyter kernel for Python, a `bash` for shell), never
in this interpreter, with a timeout, memory and process limits, a temporary working folder
and an environment without API keys or other secrets. Its events (the code as the model
writes it, a confirmation, the active line, console output, images) join the stream.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import sys
import tempfile
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from .._clients import ClientCache
from ..errors import ConfigurationError
from ..events import ConfirmationEvent, Event, MarkerEvent
from ._code_events import LANGUAGES, CodeWatcher, OutputCollector, language_of
from ._protocol import ToolArgumentsError, ToolOutput
from .execution._gateway_wire import Gateway
from .execution.limits import Limits

if TYPE_CHECKING:
    import asyncio

    from ..messages import ToolCall
    from .execution._child import BackgroundStart
    from .execution.gateway import GatewaySession
    from .execution.python import PythonSession
    from .execution.shell import ShellSession

    Session = PythonSession | ShellSession | GatewaySession

__all__ = ["CodeInterpreter", "ConfirmPolicy"]

DENIED = "The user declined to run this code."

ConfirmPolicy = Literal["ask", "auto"] | Callable[[ConfirmationEvent], bool | Awaitable[bool]]
"""How code gets approved: `"ask"` (the consumer decides, see `ConfirmationEvent`),
`"auto"` (run without asking), or a callback that receives the confirmation event and
returns (or, in async streams, may await) `True` to run the code."""

_KERNEL_MODULES = (
    "mirastream.tools.execution.python",
    "jupyter_client.connect",
    "jupyter_client.asynchronous.client",
    "jupyter_client.blocking.client",
    "zmq.asyncio",
)
"""What launching a Python kernel imports (half a second): a prewarm loads it first, off the
event loop, and launches nothing if the stream stopped meanwhile."""


class CodeInterpreter:
    """A tool named `execute(language, code)` that runs the model's code in a persistent session.

    Args:
        confirm: `"ask"` (default): a `ConfirmationEvent` is yielded before each run; call
            `approve()` or `deny()` on it, or stop iterating so the code never runs; simply
            iterating on is consent. `"auto"`: run without asking (the event is still
            yielded, already approved). A callable: called with the event; it returns (in
            async streams it may await) `True` to run the code.
        limits: the execution limits (timeout, memory, processes, working folder, env).
        max_output_chars: how much of the output goes back to the model; beyond it the head
            and the tail are kept with a note in between. The stream shows everything.
        languages: the languages offered to the model.
        prewarm: start the Python session (a Jupyter kernel, which takes a second or two to
            start) in the background as soon as a stream with this tool begins, so that it
            is ready by the time the model has written its first call: in a thread for
            `stream()`, in a task of the event loop for `stream_async()`. A call that comes
            earlier waits for that start rather than launching a second kernel, and a
            failed start is reported by the call, as without prewarming. Stopping the
            stream (closing it, cancelling it, Ctrl-C, an error) while the kernel starts
            aborts the start; otherwise the warm kernel stays for the calls to come, like
            any session. Shell sessions start in milliseconds and are not prewarmed.
            `False`: each session starts on its first call.
        sandbox: run the code in a sandbox (the default; Linux, see docs/security.md): its
            own processes, a private home, `/tmp` and `/dev/shm`, the host's files hidden or
            read-only except the workspace, no network, an environment from an allow-list,
            and nothing left running or on disk once it is closed or the host dies. Where
            none can be built (macOS, user namespaces disabled) `SandboxUnavailableError`
            is raised here. `False`: run the code as the user, uncontained (a temporary
            folder, a filtered environment and limits still apply).
        network: give sandboxed code the host's network (off by default).
        gateway: run Python on a kernel of this Jupyter Kernel Gateway or Enterprise
            Gateway (`"http://host:8888"`) instead of this machine; see
            `mirastream.tools.execution.gateway`. Shell code still runs here: offer
            `languages=("python",)` to run nothing locally. `None`: a local kernel.
        gateway_token: the gateway's auth token (sent as `Authorization: token ...`).

    Sessions persist: variables (and the shell's working directory) survive from one call
    to the next, across streams of the same interpreter. `close()` ends them; sessions
    still open at interpreter exit are closed then.
    """

    name: ClassVar[str] = "execute"
    runs_code: ClassVar[bool] = True
    """Its calls run code: the Assistant-run view shows them as `code_interpreter` steps."""

    def __init__(
        self,
        *,
        confirm: ConfirmPolicy = "ask",
        limits: Limits | None = None,
        max_output_chars: int = 2800,
        languages: tuple[str, ...] = LANGUAGES,
        prewarm: bool = True,
        sandbox: bool = True,
        network: bool = False,
        gateway: str | None = None,
        gateway_token: str | None = None,
    ) -> None:
        unknown = [language for language in languages if language not in LANGUAGES]
        if unknown or not languages:
            raise ValueError(f"languages must be taken from {LANGUAGES}, not {unknown or '()'}")
        if confirm not in ("ask", "auto") and not callable(confirm):
            raise ValueError("confirm must be 'ask', 'auto' or a callable")
        self.confirm = confirm
        self.limits = limits or Limits()
        self.max_output_chars = max_output_chars
        self.languages = languages
        self.prewarm = prewarm
        self.sandbox = sandbox
        self.network = network
        if sandbox and (gateway is None or "shell" in languages):  # some code runs here
            from .execution._sandbox import find_bwrap

            find_bwrap()  # SandboxUnavailableError now, not at the first call
        self._workspace: Path | None = None
        self._workspace_cleanup: weakref.finalize[..., CodeInterpreter] | None = None
        self._workspace_lock = threading.Lock()
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        self._async_sessions = ClientCache()
        self._closes = 0  # how many times close() was called (a prewarm asked before then is off)
        self._warming: set[asyncio.Task[None]] = set()  # async prewarms (the loop keeps weak refs)
        self.gateway = None if gateway is None else Gateway(gateway, gateway_token)  # checked now

    @property
    def description(self) -> str:
        """What the model is told about the tool."""
        return (
            "Run code on the user's machine and get its output. Sessions persist between "
            "calls (variables and the working directory are kept). Languages: "
            f"{', '.join(self.languages)}. Print what you want to see; the value of a final "
            "Python expression is shown too."
        )

    @property
    def parameters(self) -> dict[str, Any]:
        """The JSON schema of the tool's arguments."""
        return {
            "type": "object",
            "properties": {
                "language": {
                    "type": "string",
                    "enum": list(self.languages),
                    "description": "The language of the code.",
                },
                "code": {"type": "string", "description": "The code to run."},
            },
            "required": ["language", "code"],
        }

    def __repr__(self) -> str:
        return (
            f"CodeInterpreter(confirm={self.confirm!r}, languages={self.languages!r}, "
            f"prewarm={self.prewarm!r})"
        )

    # Sessions -------------------------------------------------------------------------

    @property
    def workspace(self) -> Path:
        """The working folder of the code (Python and shell share it), read-write in the sandbox.

        `Limits.workdir` when given (kept on close); otherwise a fresh temporary folder,
        made on first use and removed by `close()` (or at interpreter exit, or by the
        sandbox when the host dies). Files the code saves there can be read here until then.
        """
        if self.limits.workdir is not None:
            return Path(self.limits.workdir).expanduser().resolve()
        with self._workspace_lock:
            if self._workspace is None:
                from .execution._workspace import remove_tree

                self._workspace = Path(tempfile.mkdtemp(prefix="mirastream-workspace-"))
                self._workspace_cleanup = weakref.finalize(self, remove_tree, self._workspace)
            return self._workspace

    def _new_session(self, language: str) -> Session:
        if language == "python" and self.gateway is not None:
            from .execution.gateway import GatewaySession

            return GatewaySession(self.gateway.url, self.gateway.token, self.limits)
        workdir = self.workspace
        limits = dataclasses.replace(self.limits, workdir=workdir)
        session: PythonSession | ShellSession
        if language == "python":
            from .execution.python import PythonSession

            session = PythonSession(limits, sandbox=self.sandbox, network=self.network)
        else:
            from .execution.shell import ShellSession

            session = ShellSession(limits, sandbox=self.sandbox, network=self.network)
        if self.limits.workdir is None:
            session.removed_on_host_exit = (workdir,)
        return session

    def session(self, language: str) -> Session:
        """The sync session for `language`, made on first use."""
        with self._lock:
            session = self._sessions.get(language)
            if session is None:
                session = self._sessions[language] = self._new_session(language)
            return session

    def async_session(self, language: str) -> Session:
        """The async session for `language` in the running event loop, made on first use.

        It is closed when the event loop shuts down.
        """

        def make() -> tuple[Session, Callable[[], Awaitable[None]]]:
            session = self._new_session(language)
            return session, session.aclose

        return self._async_sessions.async_client(language, make)

    def discard_session(self, language: str) -> None:
        """Close the sync session for `language` (the next call starts a fresh one)."""
        with self._lock:
            session = self._sessions.pop(language, None)
        if session is not None:
            session.close()

    async def adiscard_session(self, language: str) -> None:
        """Close the async session for `language` in the running event loop, if any."""
        await self._async_sessions.discard_async(language)

    def close(self) -> None:
        """End every sync session (their child processes stop), also one still starting.

        A temporary workspace is removed (with the files the code saved there).
        """
        with self._lock:
            self._closes += 1
            sessions, self._sessions = list(self._sessions.values()), {}
        with self._workspace_lock:
            cleanup, self._workspace_cleanup, self._workspace = self._workspace_cleanup, None, None
        for session in sessions:
            session.close()
        if cleanup is not None:
            cleanup()  # the temporary workspace

    # Prewarming -------------------------------------------------------------------------

    def warm_up(self) -> WarmUp | None:
        """Start the sync Python session in a background thread (what `prewarm` does).

        With `prewarm=True` the tool loop calls this when a `stream()` begins. Returns the
        prewarm (`cancel()` aborts it), or `None` when Python is not offered. The thread
        ends once the kernel is ready, at once if it runs or is starting already; a failed
        start is raised by the next call instead.
        """
        if "python" not in self.languages:
            return None
        warm_up = WarmUp(self._lock)
        thread = threading.Thread(
            target=self._warm_up_python, args=(warm_up, self._closes), name="mirastream-prewarm"
        )
        warm_up.thread = thread
        thread.start()
        return warm_up

    def _warm_up_python(self, warm_up: WarmUp, closes: int) -> None:
        _load_kernel_modules()
        with self._lock:
            if warm_up.cancelled or self._closes != closes:
                return
            session = self._sessions.get("python")
            if session is None:
                session = self._sessions["python"] = self._new_session("python")
            if session.alive or session.starting:
                return
            start = warm_up.start = session.background_start()
        start.run()

    def warm_up_async(self) -> asyncio.Task[None] | None:
        """Start the Python session of the running event loop in a task of the loop.

        What `prewarm` does when a `stream_async()` begins. Returns the task (await it to
        wait for the kernel, cancel it to abort the start), or `None` when Python is not
        offered. A failed start is raised by the next call instead.
        """
        if "python" not in self.languages:
            return None
        import asyncio

        task = asyncio.get_running_loop().create_task(self._awarm_up_python(), name="mirastream-prewarm")
        self._warming.add(task)
        task.add_done_callback(self._warming.discard)
        return task

    async def _awarm_up_python(self) -> None:
        if not all(name in sys.modules for name in _KERNEL_MODULES):
            import asyncio

            await asyncio.to_thread(_load_kernel_modules)
        session = self.async_session("python")
        if not (session.alive or session.starting):
            await session.background_start().arun()

    # The Tool protocol ---------------------------------------------------------------------

    def provider_options(self, provider: str) -> dict[str, Any]:
        """Anthropic: fine-grained tool streaming, so the code arrives as the model writes it."""
        return {"eager_input_streaming": True} if provider == "anthropic" else {}

    def watch(self, call_id: str | None) -> CodeWatcher:
        """Streams the code of one call as `CodeEvent`s between code start and end markers."""
        return CodeWatcher(call_id)

    def warm(self) -> WarmUp | None:
        """With `prewarm`, start the Python session as a sync stream begins (see `warm_up`)."""
        return self.warm_up() if self.prewarm else None

    def awarm(self) -> asyncio.Task[None] | None:
        """With `prewarm`, start the Python session as an async stream begins."""
        return self.warm_up_async() if self.prewarm else None

    def _checked(self, call: ToolCall) -> tuple[str, str]:
        """The language and code of `call`, or a `ToolArgumentsError` written for the model."""
        arguments = call.arguments or {}
        language = language_of(arguments.get("language"))
        code = arguments.get("code")
        if language not in self.languages:
            raise ToolArgumentsError(
                f"Unknown language {arguments.get('language')!r}; use one of: {', '.join(self.languages)}.",
                tool_name=self.name,
            )
        if not isinstance(code, str) or not code.strip():
            raise ToolArgumentsError("The `code` argument must be a non-empty string.", tool_name=self.name)
        return language, code

    def _confirmation(self, call: ToolCall) -> tuple[ConfirmationEvent, bool | Awaitable[bool] | None]:
        """Check `call`'s arguments, then make its confirmation event and apply the policy to it."""
        language, code = self._checked(call)
        confirmation = ConfirmationEvent(language, code, call.id)
        return confirmation, self.decide(confirmation)

    @staticmethod
    def _confirmed(confirmation: ConfirmationEvent) -> Iterator[Event | ToolOutput]:
        """Yield `confirmation` (the consumer may decide on it), then the denial when it was denied.

        Stopping at the confirmation means the code never runs.
        """
        yield confirmation
        if confirmation.decision is False:
            yield ToolOutput(DENIED, is_error=True)

    def run(self, call: ToolCall) -> Iterator[Event | ToolOutput]:
        """Ask for confirmation, then run the code in the sync session, streaming its output."""
        confirmation, decision = self._confirmation(call)
        if inspect.isawaitable(decision):
            if inspect.iscoroutine(decision):
                decision.close()
            raise ConfigurationError("the code interpreter's confirm callback is async: use stream_async()")
        yield from self._confirmed(confirmation)
        if confirmation.decision is False:
            return
        collector = OutputCollector(self.max_output_chars)
        executions = self.session(confirmation.language).execute(confirmation.code)
        yield _console(start=True)
        try:
            for item in executions:
                event = collector.event(item)
                if event is not None:
                    yield event
        except BaseException:
            # The consumer stopped (or the loop failed) mid-run: stop the code and its children.
            getattr(executions, "close")()  # noqa: B009  (a generator: stops the code)
            self.discard_session(confirmation.language)
            raise
        yield _console(start=False)
        yield ToolOutput(*collector.result())

    async def arun(self, call: ToolCall) -> AsyncIterator[Event | ToolOutput]:
        """The async twin of `run`: an async confirm callback is awaited."""
        confirmation, decision = self._confirmation(call)
        if inspect.isawaitable(decision):
            (confirmation.approve if await decision else confirmation.deny)()
        for step in self._confirmed(confirmation):
            yield step
        if confirmation.decision is False:
            return
        collector = OutputCollector(self.max_output_chars)
        executions = self.async_session(confirmation.language).aexecute(confirmation.code)
        yield _console(start=True)
        try:
            async for item in executions:
                event = collector.event(item)
                if event is not None:
                    yield event
        except BaseException:
            await getattr(executions, "aclose")()  # noqa: B009  (an async generator: stops the code)
            await self.adiscard_session(confirmation.language)
            raise
        yield _console(start=False)
        yield ToolOutput(*collector.result())

    # Decisions --------------------------------------------------------------------------

    def decide(self, event: ConfirmationEvent) -> bool | Awaitable[bool] | None:
        """Apply the policy to `event`: a decision, an awaitable one (async callbacks), or `None`."""
        if self.confirm == "auto":
            event.approve()
            return True
        if self.confirm == "ask":
            return None
        assert callable(self.confirm)
        result = self.confirm(event)
        if inspect.isawaitable(result):
            return result
        (event.approve if result else event.deny)()
        return bool(result)


class WarmUp:
    """A start of the sync Python session in its own thread (see `CodeInterpreter.warm_up`)."""

    __slots__ = ("_lock", "cancelled", "start", "thread")

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock  # the interpreter's: the thread makes its start under it
        self.cancelled = False
        self.start: BackgroundStart | None = None
        self.thread: threading.Thread | None = None

    def cancel(self) -> None:
        """Abort the start if the kernel is not ready yet (its thread then ends soon); no waiting."""
        with self._lock:
            self.cancelled = True
            start = self.start
        if start is not None:
            start.cancel()


def _load_kernel_modules() -> None:
    for name in _KERNEL_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            return  # the start itself reports the missing extra, with its install hint


def _console(start: bool) -> MarkerEvent:
    return MarkerEvent("computer", "console", start=start)
