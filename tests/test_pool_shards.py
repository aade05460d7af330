"""`ShardedTransport` over real loopback traffic: pools open only under load, limits hold.

The streams come from `bench/_sse_server.py` (a child process on 127.0.0.1) in the OpenAI
wire format; each one's text is unique to it, so a body delivered to the wrong request shows.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager

import httpx2
import pytest

from bench._common import floor_request
from bench._sse_server import ServerProcess, expected_text, fetch_stats
from bench.load import PROXY_VARIABLES, prompt_text, raise_open_file_limit
from mirastream._pool_shards import ShardedTransport

CHUNKS = 5


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        for name in PROXY_VARIABLES:
            patch.delenv(name, raising=False)  # every request goes straight to 127.0.0.1
        raise_open_file_limit(200)
        with ServerProcess(lifetime=300) as server_url:
            yield server_url


def text_of(body: bytes) -> str:
    """The text of an OpenAI event stream's body."""
    parts = []
    for line in body.split(b"\n"):
        if line.startswith(b"data: {"):
            choices = json.loads(line[6:])["choices"]
            if choices and choices[0]["delta"].get("content"):
                parts.append(choices[0]["delta"]["content"])
    return "".join(parts)


@asynccontextmanager
async def client_over(transport: ShardedTransport, url: str) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(base_url=url, transport=transport, trust_env=False) as client:
        yield client


async def read_stream(client: httpx2.AsyncClient, number: int, hold: Callable[[], Awaitable[None]]) -> str:
    """Stream `number`: open it, wait for `hold()` with the body unread, then read it whole."""
    path, body = floor_request("openai", prompt_text(number, CHUNKS))
    async with client.stream("POST", path, json=body) as response:
        response.raise_for_status()
        await hold()
        return text_of(await response.aread())


async def nothing() -> None:
    return None


def test_one_stream_at_a_time_reuses_one_connection_of_one_pool(url: str) -> None:
    transport = ShardedTransport(httpx2.Limits(max_connections=40, max_keepalive_connections=10), pools=4)

    async def run() -> list[str]:
        async with client_over(transport, url) as client:
            return [await read_stream(client, number, nothing) for number in range(12)]

    fetch_stats(url, reset=True)
    texts = asyncio.run(run())

    assert texts == [expected_text(number, CHUNKS) for number in range(12)]
    assert transport.pool_count == 1
    assert transport.in_flight == (0,)
    assert fetch_stats(url).peak_connections <= 2  # the one reused connection, and the stats request


def test_concurrent_streams_spread_over_the_pools_within_the_overall_limit(url: str) -> None:
    transport = ShardedTransport(httpx2.Limits(max_connections=40, max_keepalive_connections=10), pools=4)
    streams = 40
    seen: list[tuple[int, ...]] = []

    async def run() -> list[str]:
        all_open = asyncio.Event()
        opened = 0

        async def hold() -> None:
            nonlocal opened
            opened += 1
            if opened == streams:
                seen.append(transport.in_flight)
                all_open.set()
            await all_open.wait()

        async with client_over(transport, url) as client:
            texts = await asyncio.gather(*(read_stream(client, number, hold) for number in range(streams)))
            seen.append(transport.in_flight)
            return texts

    fetch_stats(url, reset=True)
    texts = asyncio.run(run())

    assert texts == [expected_text(number, CHUNKS) for number in range(streams)]
    # Every pool took its share of 10 open streams; once the bodies closed, none was busy.
    assert seen == [(10, 10, 10, 10), (0, 0, 0, 0)]
    # One connection each, open at once: the overall limit, and the stats request's own.
    assert streams <= fetch_stats(url).peak_connections <= streams + 1


def test_beyond_the_limit_requests_wait_for_a_connection_and_all_arrive(url: str) -> None:
    transport = ShardedTransport(httpx2.Limits(max_connections=8, max_keepalive_connections=8), pools=2)
    streams = 30

    async def run() -> list[str]:
        async with client_over(transport, url) as client:
            return await asyncio.gather(*(read_stream(client, number, nothing) for number in range(streams)))

    fetch_stats(url, reset=True)
    texts = asyncio.run(run())

    assert texts == [expected_text(number, CHUNKS) for number in range(streams)]
    assert transport.pool_count == 2
    assert transport.in_flight == (0, 0)
    assert fetch_stats(url).peak_connections <= 8 + 1  # the overall limit, and the stats request


def test_a_request_that_fails_to_connect_frees_its_place() -> None:
    transport = ShardedTransport(httpx2.Limits(max_connections=4))

    async def run() -> None:
        # Port 9 (discard) on loopback: nothing listens there, the connection is refused.
        async with httpx2.AsyncClient(transport=transport, trust_env=False) as client:
            with pytest.raises(httpx2.ConnectError):
                await client.get("http://127.0.0.1:9/")

    asyncio.run(run())
    assert transport.in_flight == (0,)


def test_without_a_connection_limit_there_is_one_pool(url: str) -> None:
    transport = ShardedTransport(httpx2.Limits(max_connections=None, max_keepalive_connections=5))

    async def run() -> list[str]:
        async with client_over(transport, url) as client:
            return await asyncio.gather(*(read_stream(client, number, nothing) for number in range(30)))

    assert asyncio.run(run()) == [expected_text(number, CHUNKS) for number in range(30)]
    assert transport.pool_count == 1


def test_closing_the_client_closes_every_pool(url: str) -> None:
    transport = ShardedTransport(httpx2.Limits(max_connections=6, max_keepalive_connections=6), pools=3)

    async def run() -> None:
        all_open = asyncio.Event()
        opened = 0

        async def hold() -> None:
            nonlocal opened
            opened += 1
            if opened == 6:
                all_open.set()
            await all_open.wait()

        async with client_over(transport, url) as client:
            await asyncio.gather(*(read_stream(client, number, hold) for number in range(6)))
            # The six connections are idle in three pools now; closing the client closes them.
            assert transport.pool_count == 3

    asyncio.run(run())
    assert open_connections_settled(url) == 1  # only the stats request's own connection is left


def open_connections_settled(url: str) -> int:
    """The server's open connections, once they have dropped to 1 or after 5 seconds."""
    deadline = time.monotonic() + 5
    count = fetch_stats(url).open_connections
    while count > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
        count = fetch_stats(url).open_connections
    return count


def test_at_least_one_pool() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ShardedTransport(httpx2.Limits(max_connections=10), pools=0)
