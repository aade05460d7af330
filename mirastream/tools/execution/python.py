r"""`PythonSession`: a persistent IPython kernel in a child process.

```python
from mirastream.tools.execution import Limits, PythonSession

with PythonSession(Limits(timeout=30)) as session:
    for event in session.execute("x = 6 * 7\nx"):
        print(event)
```

The kernel keeps its variables between executions. The code runs exactly as approved
(nothing is added to it), as an IPython cell: IPython's syntax works too (`%magic`,
`!command`), and the last expression's value is shown as in a notebook. Images
(Matplotlib figures, `IPython.display.Image`) arrive as `Image` events. `input()` raises
(the code gets no stdin). Needs `jupyter_client` and `ipykernel`
(`pip install "mirastream[code]"`) in the host's interpreter, which also runs the kernel.

How every session is used (one world at a time, what is safe from any thread, `with`) is
said in the package docs, `mirastream.tools.execution`.
"""

from __future__ import annotations

import queue
import time
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, cast

from ._child import Child, World
from ._control import RunControl
from ._errors import SessionStartError
from ._flow import Flow, Receive
from ._jupyter_decode import JupyterDecoder, message_type, parent_id
from ._kernel import KernelChild
from ._kernel_bootstrap import BOOTSTRAP
from ._process import describe_exit, kill_group
from ._running import emit_last, pump_jupyter, pump_until_over
from ._session import Session
from ._workspace import Workspace

if TYPE_CHECKING:
    from jupyter_client.asynchronous.client import AsyncKernelClient
    from jupyter_client.blocking.client import BlockingKernelClient

__all__ = ["PythonSession"]

START_TIMEOUT = 60.0
"""Seconds a new kernel gets to answer and run the bootstrap."""

KERNEL_MEMORY_MB = 300
"""About the address space an idle IPython kernel needs (`Limits.max_memory_mb`)."""

Message = dict[str, Any]


class PythonSession(Session):
    """A persistent Python (IPython kernel) session; see the module docs."""

    language: ClassVar[str] = "python"
    _state_lost: ClassVar[str] = "earlier variables and imports are lost"

    def _launch(self, workspace: Workspace, world: World) -> Child:
        return KernelChild(workspace, self.limits, world, self.sandbox, self.removed_on_host_exit)

    # IO ------------------------------------------------------------------------------

    # The channels' own `get_msg`: `BlockingKernelClient.get_iopub_msg` would run that
    # blocking call through `run_sync`, which sets a hidden event loop on the calling thread
    # (and starts a thread when one is already running there).

    def _receive(self, child: Child, step: Receive) -> object:
        client = cast("BlockingKernelClient", cast(KernelChild, child).client)
        channel = client.iopub_channel if step.channel == "iopub" else client.shell_channel
        try:
            return channel.get_msg(timeout=step.timeout)
        except queue.Empty:
            return None

    async def _areceive(self, child: Child, step: Receive) -> object:
        client = cast("AsyncKernelClient", cast(KernelChild, child).client)
        channel = client.iopub_channel if step.channel == "iopub" else client.shell_channel
        try:
            return await channel.get_msg(timeout=step.timeout)
        except queue.Empty:
            return None

    # Flows ---------------------------------------------------------------------------

    def _start_flow(self, child: Child) -> Flow[None]:
        kernel = cast(KernelChild, child)
        client = kernel.client
        deadline = time.monotonic() + START_TIMEOUT
        # The kernel_info reply proves the shell channel works; an iopub message (the status
        # around a kernel_info request) proves the iopub subscription is in place, so no
        # output of the first execution can be lost. Requests repeat until one is seen.
        client.kernel_info()
        replied = subscribed = False
        asked = time.monotonic()
        while not subscribed:
            self._check_starting(kernel, deadline)
            message = yield Receive(0.1, "iopub" if replied else "shell")
            if message is not None:
                subscribed = replied
                replied = replied or message_type(cast(Message, message)) == "kernel_info_reply"
            elif replied and time.monotonic() - asked > 0.2:
                client.kernel_info()
                asked = time.monotonic()
        msg_id = client.execute(BOOTSTRAP, silent=True, store_history=False, allow_stdin=False)
        while True:
            self._check_starting(kernel, deadline)
            reply = cast("Message | None", (yield Receive(0.1, "shell")))
            if reply is not None and parent_id(reply) == msg_id:
                content = reply.get("content") or {}
                if content.get("status") != "ok":
                    error = f"{content.get('ename')}: {content.get('evalue')}"
                    raise SessionStartError(f"the Python kernel's set-up code failed: {error}")
                return

    def _check_starting(self, kernel: KernelChild, deadline: float) -> None:
        if kernel.closing:
            raise SessionStartError("the session was closed while the Python kernel was starting")
        returncode = kernel.poll()
        failure = kernel.start_failure() if returncode is None else kernel.log_tail()
        if returncode is None and failure is None:
            if time.monotonic() > deadline:
                raise SessionStartError(f"the Python kernel did not start within {START_TIMEOUT:g} s")
            return
        how = (
            "failed to start"
            if returncode is None
            else f"exited while starting ({describe_exit(returncode)})"
        )
        message = f"the Python kernel {how}" + (f":\n{failure}" if failure else "")
        memory = self.limits.max_memory_mb
        if memory is not None and memory < 2 * KERNEL_MEMORY_MB:
            message += f"\n(Limits.max_memory_mb={memory} may be too low: a kernel needs about"
            message += f" {KERNEL_MEMORY_MB} MB)"
        raise SessionStartError(message)

    def _execute_flow(self, child: Child, code: str, control: RunControl) -> Flow[None]:
        kernel = cast(KernelChild, child)
        while (yield Receive(0, "shell")) is not None:
            pass  # replies of earlier requests
        msg_id = kernel.client.execute(
            code, silent=False, store_history=True, allow_stdin=False, stop_on_error=False
        )
        decoder = JupyterDecoder(msg_id)
        pump = partial(pump_jupyter, kernel, decoder, control)
        outcome, quiet = yield from pump_until_over(pump, kernel, control)
        now = time.monotonic()
        restart = f"the next run starts a new Python session ({self._state_lost})"
        if outcome == "done":
            finished = control.finished(now, decoder.status, decoder.error)
        elif outcome == "killed":
            finished = control.finished(now, "killed", None, killed=True, restart_note=restart)
        else:
            if not kernel.closed:
                kill_group(kernel.pid)  # what the kernel left running in its group
            returncode = kernel.poll()
            how = "the session was closed" if kernel.closed else describe_exit(returncode or 0)
            died = f"the Python kernel died ({how})"
            finished = control.finished(now, "killed", died, restart_note=restart)
        yield from emit_last(decoder.finish, finished, quiet)
