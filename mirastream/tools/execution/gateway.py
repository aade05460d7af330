r"""`GatewaySession`: Python on a kernel of a Jupyter Kernel Gateway or Enterprise Gateway.

```python
from mirastream.tools.execution import Limits
from mirastream.tools.execution.gateway import GatewaySession

with GatewaySession("http://gateway:8888", token="...", limits=Limits(timeout=30)) as python:
    for event in python.execute("x = 6 * 7\nx"):
        print(event)
```

The session starts a kernel on the gateway (`POST /api/kernels`) and talks to it over the
standard Jupyter WebSocket (`/api/kernels/{id}/channels`), with the token in an
`Authorization: token ...` header. It streams the same events as the local
`PythonSession`: output as it is printed, `Image`s, errors, and the active line (the same
set-up code runs first on the remote kernel; a kernel where it fails runs without active
lines). A timeout or `interrupt()` interrupts the kernel (`POST .../interrupt`); past
`Limits.grace`, or when the session closes, the kernel is deleted (`DELETE
/api/kernels/{id}`), and a later run starts a fresh one. If the gateway ends or restarts
the kernel, the run finishes with `"killed"` and the next one starts a fresh kernel.

Of the `Limits`, `timeout`, `grace` and `max_output_bytes` apply; memory, processes, the
working folder and the environment are the gateway's to set. Requests go to the given URL
only (proxy settings in the environment are ignored). Needs `websockets`
(`pip install "mirastream[gateway]"`); no Jupyter package is needed on this side.

How every session is used (one world at a time, what is safe from any thread, `with`) is
said in the package docs, `mirastream.tools.execution`.
"""

from __future__ import annotations

import time
from functools import partial
from typing import ClassVar, cast

from ._child import Child, World
from ._control import RunControl
from ._errors import SessionStartError
from ._flow import Flow, Receive
from ._gateway_child import GatewayChild
from ._gateway_wire import Gateway, GatewayError, Message, execute_request
from ._jupyter_decode import JupyterDecoder, parent_id
from ._kernel_bootstrap import BOOTSTRAP
from ._running import emit_last, pump_jupyter, pump_until_over
from ._session import Session
from ._workspace import Workspace
from .limits import Limits

__all__ = ["GatewayError", "GatewaySession"]

START_TIMEOUT = 60.0
"""Seconds a kernel the gateway started gets to answer and run the set-up code."""

_DEFAULT_LIMITS = Limits()


class GatewaySession(Session):
    """A persistent Python session on a Jupyter gateway's kernel; see the module docs.

    Args:
        url: the gateway's base URL, e.g. `"http://gateway:8888"` (a path prefix is kept).
        token: the gateway's auth token, sent as `Authorization: token <token>`; `None`
            for a gateway without one.
        limits: the execution limits (`timeout`, `grace` and `max_output_bytes` apply).
        kernel_name: the kernel spec to start; `None`: the gateway's default.

    Raises:
        ConfigurationError: `url` is not an http(s) URL, or the token is not one line.
    """

    language: ClassVar[str] = "python"
    _state_lost: ClassVar[str] = "earlier variables and imports are lost"

    def __init__(
        self,
        url: str,
        token: str | None = None,
        limits: Limits = _DEFAULT_LIMITS,
        *,
        kernel_name: str | None = None,
    ) -> None:
        self.gateway = Gateway(url, token, kernel_name)
        super().__init__(limits, sandbox=False)  # the code runs on the gateway, not here

    def __repr__(self) -> str:
        state = "alive" if self.alive else "stopped"
        return f"GatewaySession({self.gateway.url!r}, {state}, limits={self.limits!r})"

    @property
    def workdir(self) -> str | None:
        """`None`: the code runs in the gateway's working folder, on its machine."""
        return None

    @property
    def kernel_id(self) -> str | None:
        """The id of the gateway's kernel, once one is started."""
        child = self._resources.child
        return child.kernel_id if isinstance(child, GatewayChild) else None

    def _launch(self, workspace: Workspace, world: World) -> Child:
        return GatewayChild(self.gateway, world)

    # IO ------------------------------------------------------------------------------

    def _receive(self, child: Child, step: Receive) -> object:
        return cast(GatewayChild, child).receive(step.channel, step.timeout)

    async def _areceive(self, child: Child, step: Receive) -> object:
        return await cast(GatewayChild, child).areceive(step.channel, step.timeout)

    # Flows ---------------------------------------------------------------------------

    def _start_flow(self, child: Child) -> Flow[None]:
        kernel = cast(GatewayChild, child)
        deadline = time.monotonic() + START_TIMEOUT
        # The first receive starts the kernel and opens its socket. The gateway opens the
        # socket once the kernel's iopub channel is subscribed, so after one answered
        # request no output can be lost.
        asked = kernel.request("kernel_info_request", {})
        yield from self._reply(kernel, asked, deadline)
        asked = kernel.request("execute_request", execute_request(BOOTSTRAP, silent=True))
        yield from self._reply(kernel, asked, deadline)

    def _reply(self, kernel: GatewayChild, msg_id: str, deadline: float) -> Flow[Message]:
        """Wait for the shell reply to `msg_id` while the kernel starts."""
        while True:
            if kernel.closing:
                raise SessionStartError("the session was closed while the gateway's kernel was starting")
            if kernel.poll() is not None:
                raise GatewayError(
                    f"the kernel on the Jupyter gateway at {self.gateway.url} ended while starting: "
                    f"{kernel.gone_reason}",
                    url=self.gateway.url,
                )
            if time.monotonic() > deadline:
                raise GatewayError(
                    f"the kernel on the Jupyter gateway at {self.gateway.url} did not answer within "
                    f"{START_TIMEOUT:g} s",
                    url=self.gateway.url,
                )
            reply = cast("Message | None", (yield Receive(0.1, "shell")))
            if reply is not None and parent_id(reply) == msg_id:
                return reply

    def _execute_flow(self, child: Child, code: str, control: RunControl) -> Flow[None]:
        kernel = cast(GatewayChild, child)
        kernel.inbox.clear()  # what is left belongs to earlier requests
        msg_id = kernel.request("execute_request", execute_request(code, silent=False))
        decoder = JupyterDecoder(msg_id)
        pump = partial(pump_jupyter, kernel, decoder, control)
        outcome, quiet = yield from pump_until_over(pump, kernel, control)
        now = time.monotonic()
        restart = f"the next run starts a new kernel on the gateway ({self._state_lost})"
        if outcome == "done":
            finished = control.finished(now, decoder.status, decoder.error)
        elif outcome == "killed":
            finished = control.finished(now, "killed", None, killed=True, restart_note=restart)
        else:
            how = "the session was closed" if kernel.closed else kernel.gone_reason
            died = f"the gateway's kernel was lost ({how})"
            finished = control.finished(now, "killed", died, restart_note=restart)
        yield from emit_last(decoder.finish, finished, quiet)
