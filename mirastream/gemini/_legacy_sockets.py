"""What mirastream's own legacy clients report about each request: its socket and HTTP response.

The legacy client reads with `requests` in worker threads. A thread blocked in a read (or
waiting for the response headers) can only be freed by shutting its socket down, and
`requests` does not say which socket a request uses. The default legacy clients therefore
mount an adapter whose connections report their socket, once the request is sent, to the
`LegacyExchange` of the thread that sends it; the adapter also reports the HTTP response,
whose body mirastream then reads itself (see `_legacy_read`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from .._connections import RequestSockets


class LegacyExchange:
    """One request sent through a default legacy client: its sockets and, once sent, its response."""

    __slots__ = ("response", "sockets")

    def __init__(self, sockets: RequestSockets) -> None:
        self.sockets = sockets
        self.response: Any = None  # the `requests.Response`, reported by the adapter


_CURRENT: ContextVar[LegacyExchange | None] = ContextVar("mirastream_legacy_exchange", default=None)


@contextmanager
def sending(exchange: LegacyExchange) -> Iterator[None]:
    """Report to `exchange` the socket and response of a request sent in this thread inside the block."""
    token = _CURRENT.set(exchange)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def track_sockets(client: Any) -> None:
    """Make the session of a legacy service client made by mirastream send each request once,
    through adapters that report its socket and response."""
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    def report(connection: Any) -> None:
        exchange = _CURRENT.get()
        if exchange is not None and connection.sock is not None:
            exchange.sockets.add(connection.sock)

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

        def build_response(self, req: Any, resp: Any) -> Any:
            response = super().build_response(req, resp)
            exchange = _CURRENT.get()
            if exchange is not None:
                exchange.response = response
            return response

    # The generated REST transport keeps its google-auth `AuthorizedSession` in `_session`
    # and builds it with the default options (no accessor or option for either in
    # google-ai-generativelanguage, which is frozen with the deprecated package). Those
    # defaults "refresh" the credentials and send the request again, twice, on a 401; an
    # API key cannot be refreshed, so that only repeats a rejected request. No status is
    # refreshed here, as `AuthorizedSession(refresh_status_codes=())` would do.
    session = client.transport._session
    session._refresh_status_codes = ()
    for prefix in ("http://", "https://"):
        session.mount(prefix, ReportingAdapter())
