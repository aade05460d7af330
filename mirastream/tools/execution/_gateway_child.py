"""A kernel on a Jupyter gateway as a session's child: REST for its life, a WebSocket for its messages.

Launching makes no request: the first `receive()` (`areceive()`) starts the kernel
(`POST /api/kernels`) and opens its WebSocket, blocking or awaiting as its world does, so
the start flow's waits stay the only IO. Requests the flows make are queued and sent at the
next receive. The gateway multiplexes every channel on the socket; an `Inbox` keeps each
channel's messages until they are asked for.

Interrupting (`POST .../interrupt`) and killing (`DELETE /api/kernels/{id}`) can come from
any thread and must not block, so each runs in a short-lived thread; `wait()` and
`await_exit()` wait for the deletion. A kernel whose start is still under way when it is
killed is deleted as soon as its id arrives, also when an async start is cancelled. No
request goes anywhere but the gateway's URL: proxies from the environment are not used.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..._clients import require_module
from ._child import Child, World, closed_while_starting
from ._gateway_wire import (
    Channel,
    Gateway,
    Inbox,
    Message,
    kernel_id_of,
    refused,
    request,
    unreachable,
)

__all__ = ["GatewayChild"]

if TYPE_CHECKING:
    import httpx2
    from websockets.asyncio.client import ClientConnection as AsyncSocket
    from websockets.sync.client import ClientConnection as SyncSocket

START_REQUEST_TIMEOUT = 120.0
"""Seconds `POST /api/kernels` may take (Enterprise Gateway may first schedule a pod)."""

REQUEST_TIMEOUT = 10.0
"""Seconds for connecting, opening the WebSocket, interrupting and deleting."""

CLOSE_TIMEOUT = 1.0
"""Seconds to wait for the gateway's answer when closing the WebSocket."""

MAX_MESSAGE_BYTES = 256 * 2**20
"""The largest WebSocket message accepted (an image arrives as one message)."""

PROBE_AFTER = 1.0
"""Seconds of silence after which the gateway is asked whether it still runs the kernel."""

PROBE_EVERY = 5.0
"""Least seconds between two such questions (while a long computation prints nothing)."""

_SHORTEST_AWAIT = 0.001  # a zero-second `wait_for` would not even look at what has arrived


class GatewayChild(Child):
    """One kernel on a gateway, its WebSocket (blocking or async), and its REST calls."""

    def __init__(self, gateway: Gateway, world: World) -> None:
        super().__init__(world)
        require_module("websockets", extra="gateway")
        self.gateway = gateway
        self.session_id = uuid.uuid4().hex
        self.inbox = Inbox(gateway.url)
        self.kernel_id: str | None = None
        self._outbox: deque[str] = deque()
        self._sockets = contextlib.ExitStack()
        self._sync_socket: SyncSocket | None = None
        self._async_socket: AsyncSocket | None = None
        self._state = threading.Lock()
        self._creating = False
        self._killed = False
        self._exit: int | None = None
        self._lost: str | None = None
        self._gone = threading.Event()  # set once a killed kernel is deleted (or never existed)
        self._heard = time.monotonic()  # when the last message came
        self._probed = -PROBE_EVERY  # when the gateway was last asked about the kernel
        self._probing = False

    # State --------------------------------------------------------------------------------

    def poll(self) -> int | None:
        """`None` while the kernel can run code; a code once it is killed, lost or ended."""
        if self._exit is None and self.inbox.ended is not None:
            self._exit = 1
        return self._exit

    @property
    def gone_reason(self) -> str:
        """Why the kernel can no longer run code."""
        return self.inbox.ended or self._lost or "it was deleted"

    def _lose(self, reason: str) -> None:
        with self._state:
            self._lost = self._lost or reason
            if self._exit is None:
                self._exit = 1

    def wait(self, timeout: float) -> int | None:
        """Wait (blocking) for a killed kernel's deletion; its code, or `None`."""
        return self._exit if self._gone.wait(timeout) else None

    async def await_exit(self, timeout: float) -> int | None:
        """Wait (async) for a killed kernel's deletion, closing the async WebSocket."""
        deadline = time.monotonic() + timeout
        socket = self._async_socket
        if self._killed and socket is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(socket.close(), CLOSE_TIMEOUT)
        while not self._gone.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return self._exit if self._gone.is_set() else None

    # Lifecycle ----------------------------------------------------------------------------

    def interrupt(self) -> None:
        """Ask the gateway to interrupt the kernel (`SIGINT` there); no waiting."""
        kernel_id = self.kernel_id
        if kernel_id is not None and self.poll() is None:
            url = self.gateway.kernel_url(kernel_id) + "/interrupt"
            _in_background(lambda: self._call("POST", url), "mirastream-gateway-interrupt")

    def kill(self) -> None:
        """End the kernel (`DELETE`), now or once its start answers; no waiting; idempotent."""
        with self._state:
            if self._killed:
                return
            self._killed = True
            if self._exit is None:
                self._exit = -9
            kernel_id, creating = self.kernel_id, self._creating
        if kernel_id is not None:
            self._delete_in_background(kernel_id)
        elif not creating:
            self._gone.set()  # no kernel was ever started

    def release(self) -> None:
        """Close the WebSocket without waiting; safe to call twice."""
        if self.closed:
            return
        self.closed = True
        sync_socket, async_socket = self._sync_socket, self._async_socket
        if sync_socket is not None:
            with contextlib.suppress(Exception):
                sync_socket.close()
        if async_socket is not None:
            with contextlib.suppress(Exception):
                async_socket.transport.abort()  # nothing can be awaited here

    def _delete_in_background(self, kernel_id: str) -> None:
        def delete() -> None:
            try:
                self._call("DELETE", self.gateway.kernel_url(kernel_id))
            finally:
                socket = self._sync_socket
                if socket is not None:
                    with contextlib.suppress(Exception):
                        socket.close()
                self._gone.set()

        _in_background(delete, "mirastream-gateway-delete")

    def _call(self, method: str, url: str) -> None:
        """An interrupt or a deletion; failures are dropped (the grace period, then culling)."""
        import httpx2

        with contextlib.suppress(httpx2.HTTPError, OSError), _client(REQUEST_TIMEOUT) as http:
            http.request(method, url, headers=self.gateway.headers)

    def _probe_if_silent(self) -> None:
        """After a silence, ask in the background whether the gateway still runs the kernel.

        A gateway that deletes or culls a kernel may leave its WebSocket open and silent.
        """
        now = time.monotonic()
        if self._probing or self.kernel_id is None or self.poll() is not None:
            return
        if now - self._heard < PROBE_AFTER or now - self._probed < PROBE_EVERY:
            return
        self._probing, self._probed = True, now
        _in_background(self._probe, "mirastream-gateway-probe")

    def _probe(self) -> None:
        import httpx2

        try:
            with _client(REQUEST_TIMEOUT) as http:
                response = http.get(
                    self.gateway.kernel_url(self.kernel_id or ""), headers=self.gateway.headers
                )
            if response.status_code == 404:
                self._lose("the gateway no longer runs it: it was deleted or culled")
        except (httpx2.HTTPError, OSError):
            pass  # unreachable for now: the socket says when the connection is lost
        finally:
            self._probing = False

    # Starting the kernel --------------------------------------------------------------------

    def _begin_start(self) -> None:
        with self._state:
            if self._killed or self.closing:
                raise closed_while_starting()
            self._creating = True

    def _end_start(self, kernel_id: str | None) -> None:
        """Note the started kernel; if it was killed meanwhile, delete it and fail."""
        with self._state:
            self._creating = False
            self.kernel_id = kernel_id
            killed = self._killed
        if killed:
            if kernel_id is None:
                self._gone.set()
            else:
                self._delete_in_background(kernel_id)
                raise closed_while_starting()

    def _started(self, response: httpx2.Response) -> str:
        if response.status_code not in (200, 201):
            raise refused(
                self.gateway.url,
                "start a kernel",
                response.status_code,
                response.text,
                token=self.gateway.token is not None,
            )
        return kernel_id_of(self.gateway.url, response.text)

    def connect(self) -> None:
        """Start the kernel and open its WebSocket (blocking), unless done already."""
        if self._sync_socket is not None:
            return
        import httpx2
        from websockets.sync.client import connect

        self._begin_start()
        try:
            try:
                with _client(START_REQUEST_TIMEOUT) as http:
                    response = http.post(
                        self.gateway.kernels_url, json=self.gateway.start_body(), headers=self.gateway.headers
                    )
            except (httpx2.HTTPError, OSError) as error:
                raise unreachable(self.gateway.url, error) from error
            kernel_id = self._started(response)
        except BaseException:
            self._end_start(None)
            raise
        self._end_start(kernel_id)
        url = self.gateway.channels_url(kernel_id, self.session_id)
        with self._socket_errors():
            self._sync_socket = self._sockets.enter_context(connect(url, **self._socket_options()))

    async def aconnect(self) -> None:
        """Start the kernel and open its WebSocket (async), unless done already."""
        if self._async_socket is not None:
            return
        from websockets.asyncio.client import connect

        self._begin_start()
        # Shielded: a start cancelled while the gateway starts the kernel deletes it later.
        starting = asyncio.ensure_future(self._apost())
        try:
            kernel_id = await asyncio.shield(starting)
        except asyncio.CancelledError:
            starting.add_done_callback(self._delete_orphan)
            self._end_start(None)
            raise
        except BaseException:
            self._end_start(None)
            raise
        self._end_start(kernel_id)
        url = self.gateway.channels_url(kernel_id, self.session_id)
        with self._socket_errors():
            self._async_socket = await connect(url, **self._socket_options())

    async def _apost(self) -> str:
        import httpx2

        try:
            async with _aclient(START_REQUEST_TIMEOUT) as http:
                response = await http.post(
                    self.gateway.kernels_url, json=self.gateway.start_body(), headers=self.gateway.headers
                )
        except (httpx2.HTTPError, OSError) as error:
            raise unreachable(self.gateway.url, error) from error
        return self._started(response)

    def _delete_orphan(self, starting: asyncio.Future[str]) -> None:
        if not starting.cancelled() and starting.exception() is None:
            kernel_id = starting.result()
            _in_background(
                lambda: self._call("DELETE", self.gateway.kernel_url(kernel_id)), "mirastream-gateway-delete"
            )

    def _socket_options(self) -> dict[str, Any]:
        return {
            "additional_headers": self.gateway.headers,
            "proxy": None,
            "open_timeout": REQUEST_TIMEOUT,
            "close_timeout": CLOSE_TIMEOUT,
            "max_size": MAX_MESSAGE_BYTES,
        }

    @contextlib.contextmanager
    def _socket_errors(self) -> Iterator[None]:
        from websockets.exceptions import InvalidStatus, WebSocketException

        try:
            yield
        except InvalidStatus as error:
            response = error.response
            body = response.body.decode(errors="replace") if response.body else ""
            raise refused(
                self.gateway.url,
                "open the kernel's channels",
                response.status_code,
                body,
                token=self.gateway.token is not None,
            ) from error
        except (WebSocketException, OSError, TimeoutError) as error:
            raise unreachable(self.gateway.url, error) from error

    # Messages -----------------------------------------------------------------------------

    def request(self, msg_type: str, content: Mapping[str, Any]) -> str:
        """Queue a shell request (sent at the next receive); its `msg_id`."""
        msg_id, text = request(msg_type, content, self.session_id)
        self._outbox.append(text)
        return msg_id

    def receive(self, channel: Channel, timeout: float) -> Message | None:
        """Send what is queued, then the next message of `channel` within `timeout` s (blocking)."""
        from websockets.exceptions import ConnectionClosed

        if self._killed:
            return None
        self.connect()
        socket = self._sync_socket
        assert socket is not None
        deadline = time.monotonic() + timeout
        try:
            while self._outbox:
                socket.send(self._outbox[0])
                self._outbox.popleft()
            while True:
                message = self.inbox.take(channel)
                if message is not None or self.poll() is not None:
                    return message
                try:
                    frame = socket.recv(timeout=max(0.0, deadline - time.monotonic()))
                except TimeoutError:
                    self._probe_if_silent()
                    return None
                self._heard = time.monotonic()
                self.inbox.put(frame)
        except ConnectionClosed as error:
            self._lose(f"the gateway closed the connection ({error})")
            return None

    async def areceive(self, channel: Channel, timeout: float) -> Message | None:
        """Send what is queued, then the next message of `channel` within `timeout` s (async)."""
        from websockets.exceptions import ConnectionClosed

        if self._killed:
            return None
        await self.aconnect()
        socket = self._async_socket
        assert socket is not None
        deadline = time.monotonic() + timeout
        try:
            while self._outbox:
                await socket.send(self._outbox[0])
                self._outbox.popleft()
            while True:
                message = self.inbox.take(channel)
                if message is not None or self.poll() is not None:
                    return message
                wait = max(_SHORTEST_AWAIT, deadline - time.monotonic())
                try:
                    frame = await asyncio.wait_for(socket.recv(), wait)
                except asyncio.TimeoutError:
                    self._probe_if_silent()
                    return None
                self._heard = time.monotonic()
                self.inbox.put(frame)
        except ConnectionClosed as error:
            self._lose(f"the gateway closed the connection ({error})")
            return None


def _client(timeout: float) -> httpx2.Client:
    """An HTTP client for the gateway only: no proxy or settings from the environment."""
    import httpx2

    return httpx2.Client(trust_env=False, timeout=httpx2.Timeout(timeout, connect=REQUEST_TIMEOUT))


def _aclient(timeout: float) -> httpx2.AsyncClient:
    """The async twin of `_client`."""
    import httpx2

    return httpx2.AsyncClient(trust_env=False, timeout=httpx2.Timeout(timeout, connect=REQUEST_TIMEOUT))


def _in_background(work: Callable[[], None], name: str) -> None:
    try:
        threading.Thread(target=work, name=name, daemon=True).start()
    except RuntimeError:  # no new thread at interpreter shutdown: do it here
        work()
