"""`ShellSession`: a persistent shell (`bash`) in a child process.

```python
from mirastream.tools.execution import ShellSession

with ShellSession() as shell:
    for event in shell.execute("cd /tmp && export GREETING=hi"):
        ...
    for event in shell.execute('echo "$GREETING from $PWD"'):
        ...
```

State persists between executions: the current folder, variables, functions. Each
execution's code is written unchanged to a file in the session's private folder and
`source`d by the shell with stdin from `/dev/null` (see `_shell_decode.run_line`), so
a here-document or quote left open ends with a syntax error in that file instead of
swallowing the next commands, and `read` gets end-of-file instead of the control lines.
The status is the code's exit status: `"error"` with `"exit status N"` when it is not 0.
`exit` ends the shell: the next execution starts a new one. stdout and stderr are
separate pipes, so the order between the two streams is only approximate.

Shell sessions report no `ActiveLine` events.

How every session is used (one world at a time, what is safe from any thread, `with`) is
said in the package docs, `mirastream.tools.execution`.
"""

from __future__ import annotations

import time
from functools import partial
from typing import ClassVar, Literal, cast

from ._child import KILL_WAIT, Child, World
from ._control import RunControl
from ._errors import SessionStartError
from ._flow import Flow, Receive, WaitExit
from ._process import describe_exit, kill_group
from ._running import emit_admitted, emit_last, pump_until_over, stop_if_due
from ._session import Session
from ._shell import Pieces, ShellChild, ShellCommand
from ._shell_decode import ShellDecoder, run_line
from ._workspace import Workspace
from .events import Output

__all__ = ["ShellSession"]

START_TIMEOUT = 30.0
"""Seconds a new shell gets to answer its first control line."""


class ShellSession(Session):
    """A persistent shell session; see the module docs."""

    language: ClassVar[str] = "shell"
    _state_lost: ClassVar[str] = "earlier variables, functions and the current folder are lost"

    def _launch(self, workspace: Workspace, world: World) -> Child:
        command = ShellCommand(workspace, self.limits, self.sandbox, self.removed_on_host_exit)
        return ShellChild(command, world)

    # IO ------------------------------------------------------------------------------

    def _receive(self, child: Child, step: Receive) -> object:
        return cast(ShellChild, child).read(step.timeout)

    async def _areceive(self, child: Child, step: Receive) -> object:
        return await cast(ShellChild, child).aread(step.timeout)

    # Flows ---------------------------------------------------------------------------

    def _start_flow(self, child: Child) -> Flow[None]:
        shell = cast(ShellChild, child)
        decoder = ShellDecoder(shell.marker)
        shell.write(run_line(shell.marker, None, bash=shell.bash))
        deadline = time.monotonic() + START_TIMEOUT
        said: list[str] = []
        while not decoder.done:
            if shell.closing:
                raise SessionStartError("the session was closed while the shell was starting")
            if time.monotonic() > deadline:
                raise SessionStartError(f"the shell did not answer within {START_TIMEOUT:g} s")
            pieces = cast("Pieces | None", (yield Receive(0.1)))
            for stream, data in pieces or ():
                if not data:
                    returncode = yield WaitExit(KILL_WAIT)
                    how = "" if returncode is None else f" ({describe_exit(cast(int, returncode))})"
                    text = "".join(said).strip()
                    detail = f":\n{text}" if text else ""
                    raise SessionStartError(f"the shell exited while starting{how}{detail}")
                said += [event.text for event in decoder.feed(stream, data) if isinstance(event, Output)]

    def _execute_flow(self, child: Child, code: str, control: RunControl) -> Flow[None]:
        shell = cast(ShellChild, child)
        shell.code_file.write_bytes(code.encode("utf-8", "surrogateescape"))
        decoder = ShellDecoder(shell.marker)
        shell.write(run_line(shell.marker, shell.code_file, bash=shell.bash))
        pump = partial(self._pump, shell, decoder, control)
        outcome, quiet = yield from pump_until_over(pump, shell, control)
        now = time.monotonic()
        restart = f"the next run starts a new shell ({self._state_lost})"
        if outcome == "done":
            status = decoder.exit_status or 0
            finished = control.finished(now, "ok" if status == 0 else "error", f"exit status {status}")
        elif outcome == "killed":
            finished = control.finished(now, "killed", None, killed=True, restart_note=restart)
        else:
            if not shell.closed:
                kill_group(shell.pid)  # what the shell left running in its group
            returncode = yield WaitExit(KILL_WAIT)
            if shell.closed or returncode is None:
                finished = control.finished(now, "killed", "the shell was stopped", restart_note=restart)
            elif cast(int, returncode) < 0:
                died = f"the shell died ({describe_exit(cast(int, returncode))})"
                finished = control.finished(now, "killed", died, restart_note=restart)
            else:
                status = cast(int, returncode)
                exited = f"exit status {status}; the shell exited: {restart}"
                finished = control.finished(now, "ok" if status == 0 else "error", exited)
        yield from emit_last(decoder.finish, finished, quiet)

    def _pump(
        self, shell: ShellChild, decoder: ShellDecoder, control: RunControl, quiet: bool
    ) -> Flow[Literal["done", "killed", "ended"]]:
        """Read the execution's output until both end markers came, stopping it when due."""
        while not decoder.done:
            now = time.monotonic()
            if (yield from stop_if_due(shell, control, now)):
                return "killed"
            pieces = cast("Pieces | None", (yield Receive(control.wait(now))))
            if pieces is None:
                if shell.closed or shell.poll() is not None:
                    return "ended"
                continue
            for stream, data in pieces:
                if data:
                    yield from emit_admitted(control, decoder.feed(stream, data), quiet)
        return "done"
