"""Which socket a legacy request runs on, so that stopping it never waits for the server.

The legacy client reads with `requests` in worker threads. A thread blocked in a read (or
waiting for the response headers) can only be freed by shutting its socket down, and
`requests` does not say which socket a request uses. The default legacy clients therefore
mount an adapter whose connections report their socket, once the request is sent, to the
`RequestSockets` of the thread that sends it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from .._connections import RequestSockets

_CURRENT: ContextVar[RequestSockets | None] = ContextVar("mirastream_legacy_sockets", default=None)


@contextmanager
def sending(sockets: RequestSockets) -> Iterator[None]:
    """Report to `sockets` the socket of a request sent in this thread inside the block."""
    token = _CURRENT.set(sockets)
    try:
        yield
    finally:
        _CURRENT.reset(token)


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
