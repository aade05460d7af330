"""An async HTTP transport that stays fast with a thousand streams open at once.

Each time `httpcore2`'s connection pool assigns or releases a request, it looks at every
connection and every waiting request it holds. Each request therefore costs time in
proportion to the number of open streams, and a burst of N streams costs N² in total.
With 1,000 concurrent streams that is most of the client's time, whatever reads them.

`ShardedTransport` spreads the requests over several pools with the same settings. Each
request goes to the pool with the fewest requests in flight. A new pool opens only when
every open pool has its share of the connection limit busy. Up to that share, everything
goes through the first pool, so a program with a few streams at a time reuses its
connections exactly as with one pool. Together the pools keep the overall connection limit.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import httpx2

__all__ = ["SDK_LIMITS", "ShardedTransport"]

MAX_POOLS = 16
SDK_LIMITS = httpx2.Limits(max_connections=1000, max_keepalive_connections=100)
"""The connection limits the OpenAI and Anthropic SDKs give their clients (httpx's default is 100)."""


class ShardedTransport(httpx2.AsyncBaseTransport):
    """Sends each request through the least busy of up to `pools` connection pools.

    `limits` are the limits of the whole transport. Each pool may open its share of
    `max_connections`, and may keep that many idle connections (or
    `max_keepalive_connections`, when that is lower). Without a `max_connections` there is
    one pool, without a limit.
    """

    def __init__(self, limits: httpx2.Limits, *, pools: int = MAX_POOLS) -> None:
        if pools < 1:
            raise ValueError(f"pools must be at least 1, not {pools}")
        total = limits.max_connections
        self._share = math.ceil(total / pools) if total is not None else None
        keepalive = limits.max_keepalive_connections
        if self._share is not None and (keepalive is None or keepalive > self._share):
            keepalive = self._share
        self._pool_limits = httpx2.Limits(
            max_connections=self._share,
            max_keepalive_connections=keepalive,
            keepalive_expiry=limits.keepalive_expiry,
        )
        self._max_pools = pools if self._share is not None else 1
        self._ssl_context = httpx2.create_ssl_context()  # one for all pools: each costs milliseconds
        self._pools: list[httpx2.AsyncHTTPTransport] = []
        self._in_flight: list[int] = []
        self._open_pool()

    @property
    def pool_count(self) -> int:
        """How many pools are open."""
        return len(self._pools)

    @property
    def in_flight(self) -> tuple[int, ...]:
        """The number of requests each pool is sending or streaming."""
        return tuple(self._in_flight)

    def _open_pool(self) -> int:
        self._pools.append(httpx2.AsyncHTTPTransport(verify=self._ssl_context, limits=self._pool_limits))
        self._in_flight.append(0)
        return len(self._pools) - 1

    def _choose(self) -> int:
        counts = self._in_flight
        least = min(range(len(counts)), key=counts.__getitem__)  # the first of the least busy
        share = self._share
        if share is not None and counts[least] >= share and len(counts) < self._max_pools:
            return self._open_pool()
        return least

    def release(self, index: int) -> None:
        """Count a request of pool `index` as done."""
        self._in_flight[index] -= 1

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Send `request` through the least busy pool; it counts as busy until its body closes."""
        index = self._choose()
        self._in_flight[index] += 1
        try:
            response = await self._pools[index].handle_async_request(request)
        except BaseException:
            self.release(index)
            raise
        stream = response.stream
        assert isinstance(stream, httpx2.AsyncByteStream), "an async transport streams asynchronously"
        response.stream = _ReleasingStream(stream, self, index)
        return response

    async def aclose(self) -> None:
        """Close every pool."""
        for pool in self._pools:
            await pool.aclose()


class _ReleasingStream(httpx2.AsyncByteStream):
    """A response body that frees its pool's slot when it is closed (once)."""

    __slots__ = ("_index", "_stream", "_transport")

    def __init__(self, stream: httpx2.AsyncByteStream, transport: ShardedTransport, index: int) -> None:
        self._stream = stream
        self._transport: ShardedTransport | None = transport
        self._index = index

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._stream:
            yield part

    async def aclose(self) -> None:
        transport, self._transport = self._transport, None
        try:
            await self._stream.aclose()
        finally:
            if transport is not None:
                transport.release(self._index)
