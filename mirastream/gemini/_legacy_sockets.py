"""Which socket a legacy request runs on, so that stopping it never waits for the server.

The legacy client reads with `requests` in worker threads. A thread blocked in a read (or
waiting for the response headers) can only be freed by shutting its socket down, and
`requests` does not say which socket a request uses. The default legacy clients therefore
mount an adapter whose connections report their socket, once the request is sent, to the
`RequestSockets` of the thread that sends it.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from .._connections import Connections, shutdown_socket

_CURRENT: ContextVar[RequestSockets | None] = ContextVar("mirastream_legacy_sockets", default=None)


class RequestSockets:
    """The sockets of one legacy request, also tracked by its call's `Connections`."""

    __slots__ = ("_connections", "_sockets")

    def __init__(self, connections: Connections) -> None:
        self._connections = connections
        self._sockets: list[socket.socket] = []

    @contextmanager
    def sending(self) -> Iterator[None]:
        """Record the socket of a request sent in this thread inside the block."""
        token = _CURRENT.set(self)
        try:
            yield
        finally:
            _CURRENT.reset(token)

    def add(self, sock: socket.socket) -> None:
        self._sockets.append(sock)
        self._connections.add(sock)

    def shut_down(self) -> None:
        """Shut the sockets down: a thread blocked on one of them returns at once."""
        for sock in self._sockets:
            shutdown_socket(sock)

    def forget(self) -> None:
        """Stop tracking the sockets: a finished request's connection may serve others."""
        while self._sockets:
            self._connections.discard(self._sockets.pop())


def track_sockets(client: Any) -> None:
    """Mount the socket-reporting adapter on a legacy service client made by mirastream."""
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    def report(connection: Any) -> None:
        sockets = _CURRENT.get()
        if sockets is not None and connection.sock is not None:
            sockets.add(connection.sock)

    class ReportingHTTPConnection(HTTPConnection):
        def request(self, *args: Any, **kwargs: Any) -> None:
            super().request(*args, **kwargs)
            report(self)

    class ReportingHTTPSConnection(HTTPSConnection):
        def request(self, *args: Any, **kwargs: Any) -> None:
            super().request(*args, **kwargs)
            report(self)

    class ReportingHTTPPool(HTTPConnectionPool):
        ConnectionCls = ReportingHTTPConnection

    class ReportingHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = ReportingHTTPSConnection

    class ReportingAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": ReportingHTTPPool, "https": ReportingHTTPSPool}

    # The generated REST transport keeps its `requests` session in `_session` (no public
    # accessor in google-ai-generativelanguage, which is frozen with the deprecated package).
    session = client.transport._session
    for prefix in ("http://", "https://"):
        session.mount(prefix, ReportingAdapter())
