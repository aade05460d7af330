"""Load, CI-sized: 200 concurrent `stream_async()` calls, every response intact, no socket left.

The real SDKs stream from `bench/_sse_server.py` (a child process on 127.0.0.1), through
mirastream's own default clients; `bench/load.py` checks each response (its text is unique
to its stream, its chunk count, finish reason and usage). `python -m bench.load` is the
full-size benchmark.
"""

from __future__ import annotations

import os
import stat
import time
from contextlib import suppress
from pathlib import Path

import pytest

from bench._sse_server import ServerProcess, Stats, fetch_stats
from bench.load import PROXY_VARIABLES, WARM_UP_STREAMS, measure, raise_open_file_limit

STREAMS = 200
CHUNKS = 20
# The connection limit of mirastream's default async clients, over all their pools: 1,000
# connections, the SDKs' own default for OpenAI and Anthropic, and what mirastream gives Gemini.
POOL_SIZE = {"openai": 1000, "anthropic": 1000, "gemini": 1000}


def open_sockets(port: int) -> int:
    """How many sockets this process has open to 127.0.0.1:`port` (on Linux), or at all."""
    fd_dir = Path("/proc/self/fd") if Path("/proc/self/fd").is_dir() else Path("/dev/fd")
    sockets = set()
    for name in os.listdir(fd_dir):
        with suppress(OSError):  # the directory listing's own descriptor, closed by now
            info = os.stat(fd_dir / name)
            if stat.S_ISSOCK(info.st_mode):
                sockets.add(info.st_ino)
    table = Path("/proc/self/net/tcp")
    if not table.is_file():
        return len(sockets)
    # Rows: "sl local_address rem_address st ... inode"; addresses are hex "IP:PORT".
    rows = [line.split() for line in table.read_text().splitlines()[1:]]
    return sum(1 for row in rows if int(row[2].split(":")[1], 16) == port and int(row[9]) in sockets)


def settled_stats(url: str, timeout: float = 10.0) -> Stats:
    """The server's stats once it has seen every client connection close (or after `timeout`)."""
    deadline = time.monotonic() + timeout
    stats = fetch_stats(url)
    while stats.open_connections > 1 and time.monotonic() < deadline:  # 1: this request's own
        time.sleep(0.05)
        stats = fetch_stats(url)
    return stats


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_concurrent_streams_arrive_intact_and_release_their_sockets(
    provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)  # every request goes straight to 127.0.0.1
    raise_open_file_limit(STREAMS)
    with ServerProcess(lifetime=300) as url:
        port = int(url.rsplit(":", 1)[1])
        sockets_before = open_sockets(port)
        result = measure("mirastream", provider, url, STREAMS, CHUNKS, timeout=120)
        sockets_after = open_sockets(port)
        stats = settled_stats(url)

    assert result.failures == 0, result.problems
    assert stats.streams_completed == WARM_UP_STREAMS + STREAMS
    # The streams were in flight together, never more than the connection pool allows. How many
    # overlap on the server depends on scheduling (a loaded 2-core machine saw 86 of 200, an idle
    # one over 100); a client that serialised them would show one or two.
    assert min(STREAMS, POOL_SIZE[provider]) // 10 <= stats.peak_streams <= POOL_SIZE[provider]
    assert stats.peak_connections <= POOL_SIZE[provider]
    # mirastream's default clients closed with their event loop: no socket left, on either side.
    assert sockets_after <= sockets_before, (sockets_before, sockets_after)
    assert stats.open_connections == 1, stats
