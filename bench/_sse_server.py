"""A fast loopback SSE server for the benchmarks: generated chat streams, thousands at once.

The user message of each request says what to stream, in the wire format of the API its
path belongs to: OpenAI Chat Completions (``.../chat/completions``), OpenAI Responses
(``.../responses``), Anthropic Messages (``.../messages``) or Gemini
(``...:streamGenerateContent``); the formats are in `_wire`.

- ``load-stream:<number>:<chunks>``: ``chunks`` text pieces unique to stream ``number``
  (see `piece`), so a response delivered to the wrong caller shows; one write per event,
  one event per turn of the server's loop (or ``interval`` seconds apart), so concurrent
  streams interleave like real ones.
- ``bench-stream:<chunks>``: ``chunks`` realistic pieces of 1-3 tokens (`bench_piece`);
  the head and the events up to the first text go out at once, the rest in writes of
  64 KiB as fast as the client reads (each event still its own chunk of the chunked
  encoding, as the APIs flush them), so what is measured is the client.
- ``bench-tool:<milliseconds>`` (OpenAI): a call of the code interpreter's ``execute``
  tool, written piece by piece over that many milliseconds, as a model writes it; once
  the request carries the tool's result, a short answer.

``GET /stats`` reports what the server saw (``?reset=1`` restarts the peaks). One asyncio
event loop serves every connection (keep-alive, chunked transfer encoding). It binds
127.0.0.1 only and stops by itself after ``lifetime`` seconds, or, run as a script, as
soon as its stdin ends (its parent closed the pipe, or exited)::

    python -m bench._sse_server --lifetime 600   # prints its URL, then serves
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import http.client
import json
import os
import re
import selectors
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench._wire import (
    WIRE_FORMATS,
    bench_piece,
    first_content_event,
    openai_events,
    openai_tool_call_events,
    tool_call_pieces,
)

__all__ = [
    "ServerProcess",
    "Stats",
    "bench_writes",
    "expected_text",
    "fetch_stats",
    "piece",
    "serve",
    "usage_of",
]

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
MAX_CHUNKS = 100_000
MAX_REQUESTS_PER_CONNECTION = 100_000
MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 1024 * 1024
BURST_BYTES = 64 * 1024
_LOAD = re.compile(rb"load-stream:(\d{1,9}):(\d{1,9})")
_BENCH = re.compile(rb"bench-stream:(\d{1,9})")
_TOOL = re.compile(rb"bench-tool:(\d{1,6})")
TOOL_CALL_TAIL = 2  # the finish chunk and `[DONE]` follow the call's last piece at once
_TOOL_RESULT = re.compile(rb'"role":\s*"tool"')


def piece(stream: int, index: int) -> str:
    """The text of chunk `index` of stream `stream` (a non-ASCII dot: 2 bytes of UTF-8)."""
    return f" {stream}\u00b7{index}"


def expected_text(stream: int, chunks: int) -> str:
    """The whole text the server streams for stream `stream`."""
    return "".join(piece(stream, index) for index in range(chunks))


def usage_of(stream: int, chunks: int) -> tuple[int, int]:
    """The (input, output) token counts the server reports for a stream."""
    return 10 + stream, chunks


def _load_events(provider: str, stream: int, chunks: int) -> Iterator[bytes]:
    pieces = [piece(stream, index) for index in range(chunks)]
    return WIRE_FORMATS[provider](pieces, f"load{stream}", usage_of(stream, chunks))


def _provider_of(path: bytes) -> str | None:
    route = path.split(b"?", 1)[0]
    if route.endswith(b"/chat/completions"):
        return "openai"
    if route.endswith(b"/responses"):
        return "openai_responses"
    if route.endswith(b"/messages"):
        return "anthropic"
    if route.endswith(b":streamGenerateContent"):
        return "gemini"
    return None


def _frame(event: bytes) -> bytes:
    """One SSE event as one chunk of the chunked transfer encoding."""
    return b"%x\r\n%s\r\n" % (len(event), event)


_STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)


@functools.lru_cache(maxsize=8)
def bench_writes(provider: str, chunks: int) -> tuple[bytes, ...]:
    """The writes of a benchmark stream: the head and the events up to the first text, then the rest.

    Every event is its own chunk of the chunked encoding (as the APIs flush each event); the
    events after the first text go out in writes of about `BURST_BYTES`, so the server
    keeps the client's socket full and the client's reading is what gets measured.
    """
    pieces = [bench_piece(index) for index in range(chunks)]
    frames = [_frame(event) for event in WIRE_FORMATS[provider](pieces, "bench0", (24, chunks))]
    split = first_content_event(provider) + 1
    writes = [_STREAM_HEAD + b"".join(frames[:split])]
    batch: list[bytes] = []
    size = 0
    for frame in frames[split:]:
        batch.append(frame)
        size += len(frame)
        if size >= BURST_BYTES:
            writes.append(b"".join(batch))
            batch, size = [], 0
    writes.append(b"".join(batch) + b"0\r\n\r\n")
    return tuple(writes)


@dataclass
class Stats:
    """What the server saw since it started (peaks: since the last reset; CPU: of its process)."""

    requests: int = 0
    connections_opened: int = 0
    streams_completed: int = 0
    open_streams: int = 0
    peak_streams: int = 0
    open_connections: int = 0
    peak_connections: int = 0
    cpu_seconds: float = 0.0

    def reset_peaks(self) -> None:
        """Restart the peaks from the current values."""
        self.peak_streams = self.open_streams
        self.peak_connections = self.open_connections


class _Server:
    """The connection handler and its bookkeeping."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.stats = Stats()
        self.connections: dict[asyncio.StreamWriter, asyncio.Task[Any]] = {}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stats = self.stats
        stats.connections_opened += 1
        stats.open_connections += 1
        stats.peak_connections = max(stats.peak_connections, stats.open_connections)
        task = asyncio.current_task()
        assert task is not None
        self.connections[writer] = task
        try:
            for _ in range(MAX_REQUESTS_PER_CONNECTION):
                if not await self._one_request(reader, writer):
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass  # the client went away (or sent garbage): drop the connection
        finally:
            self.connections.pop(writer, None)
            stats.open_connections -= 1
            writer.close()

    async def _one_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; `False` when the connection should close."""
        head = await reader.readuntil(b"\r\n\r\n")  # at most MAX_HEAD_BYTES (the reader's limit)
        request_line, *header_lines = head.split(b"\r\n")
        method, path, _ = request_line.split(b" ", 2)
        headers = dict(line.split(b":", 1) for line in header_lines if b":" in line)
        headers = {name.strip().lower(): value.strip().lower() for name, value in headers.items()}
        length = int(headers.get(b"content-length", b"0"))
        if length > MAX_BODY_BYTES:
            return False
        body = await reader.readexactly(length) if length else b""
        self.stats.requests += 1
        keep_alive = headers.get(b"connection") != b"close"
        if method == b"GET" and path.split(b"?")[0] == b"/stats":
            self.stats.cpu_seconds = time.process_time()
            payload = asdict(self.stats)
            if b"reset=1" in path:
                self.stats.reset_peaks()
            self._send_json(writer, 200, payload)
        else:
            await self._answer(writer, method, path, body)
        await writer.drain()
        return keep_alive

    async def _answer(self, writer: asyncio.StreamWriter, method: bytes, path: bytes, body: bytes) -> None:
        """Stream what the request's prompt asks for, in the wire format of its path."""
        provider = _provider_of(path)
        load = _LOAD.search(body)
        bench = _BENCH.search(body)
        tool = _TOOL.search(body)
        if method != b"POST" or provider is None:
            pass
        elif load is not None and int(load[2]) <= MAX_CHUNKS:
            await self._stream(writer, _load_events(provider, int(load[1]), int(load[2])), self.interval)
            return
        elif bench is not None and int(bench[1]) <= MAX_CHUNKS:
            await self._burst(writer, bench_writes(provider, int(bench[1])))
            return
        elif tool is not None and provider == "openai":
            if _TOOL_RESULT.search(body):  # the second turn: the tool ran, the model answers
                await self._stream(writer, openai_events(["Done", "."], "tool2", (40, 2)), 0.0)
            else:  # the first turn: the model writes its call over `milliseconds`
                pieces = tool_call_pieces()
                pause = int(tool[1]) / 1000 / len(pieces)
                events = openai_tool_call_events(pieces, "tool1")
                await self._stream(writer, events, min(pause, 10.0), tail=TOOL_CALL_TAIL)
            return
        self._send_json(writer, 404, {"error": {"message": "not a benchmark request"}})

    def _send_json(self, writer: asyncio.StreamWriter, status: int, payload: object) -> None:
        body = json.dumps(payload).encode()
        writer.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
            % (status, b"OK" if status == 200 else b"Not Found", len(body), body)
        )

    async def _stream(
        self, writer: asyncio.StreamWriter, events: Iterator[bytes], interval: float, tail: int = 0
    ) -> None:
        """One write per event, `interval` seconds apart (0: one event per turn of the loop).

        The last `tail` events follow the one before them at once (a finished call's end).
        """
        cut = None  # from this event on, no pauses
        if tail:
            pending = list(events)  # finite: the tool call's events
            cut = len(pending) - tail
            events = iter(pending)
        stats = self.stats
        stats.open_streams += 1
        stats.peak_streams = max(stats.peak_streams, stats.open_streams)
        try:
            writer.write(_STREAM_HEAD)
            for index, event in enumerate(events):  # finite: MAX_CHUNKS bounds it
                if index:  # one event per turn of the loop, so streams interleave like real ones
                    await asyncio.sleep(interval if cut is None or index < cut else 0.0)
                writer.write(_frame(event))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
            stats.streams_completed += 1
        finally:
            stats.open_streams -= 1

    async def _burst(self, writer: asyncio.StreamWriter, writes: tuple[bytes, ...]) -> None:
        """Prepared writes, as fast as the client reads them."""
        stats = self.stats
        stats.open_streams += 1
        stats.peak_streams = max(stats.peak_streams, stats.open_streams)
        try:
            for data in writes:
                writer.write(data)
                await writer.drain()
            stats.streams_completed += 1
        finally:
            stats.open_streams -= 1


async def serve(
    *,
    port: int = 0,
    lifetime: float = 600.0,
    interval: float = 0.0,
    on_ready: Callable[[str], None] | None = None,
    stop: asyncio.Event | None = None,
) -> Stats:
    """Serve on 127.0.0.1 until `lifetime` seconds pass or `stop` is set; return the stats.

    `on_ready` receives the server's URL once it listens. `interval` is the pause between
    two events of a stream (0: just yield to the other streams).
    """
    handler = _Server(interval)
    server = await asyncio.start_server(handler.handle, HOST, port, backlog=4096, limit=MAX_HEAD_BYTES)
    bound_port = server.sockets[0].getsockname()[1]
    if on_ready is not None:
        on_ready(f"http://{HOST}:{bound_port}")
    stop = stop or asyncio.Event()
    async with server:
        with suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=lifetime)
        server.close()
        tasks = list(handler.connections.values())
        for writer in list(handler.connections):
            writer.transport.abort()  # each handler then sees its connection end, and returns
        if tasks:
            await asyncio.wait(tasks, timeout=10)
    return handler.stats


def fetch_stats(url: str, *, reset: bool = False, timeout: float = 10.0) -> Stats:
    """The server's `Stats` (and restart its peaks when `reset`)."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request("GET", "/stats?reset=1" if reset else "/stats")
        return Stats(**json.loads(connection.getresponse().read()))
    finally:
        connection.close()


class ServerProcess:
    """The server in a child process, so it runs on its own core: ``with ServerProcess() as url``.

    The child stops when the block ends (its stdin closes), or by itself after `lifetime`.
    """

    def __init__(
        self, *, lifetime: float = 900.0, interval: float = 0.0, start_timeout: float = 30.0
    ) -> None:
        self.lifetime = lifetime
        self.interval = interval
        self.start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> str:
        command = [sys.executable, "-m", "bench._sse_server", "--lifetime", str(self.lifetime)]
        command += ["--interval", str(self.interval)]
        self._process = process = subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            ready = selector.select(timeout=self.start_timeout)
        line = process.stdout.readline().decode().strip() if ready else ""
        if not line.startswith(f"http://{HOST}:"):
            self.__exit__()
            raise RuntimeError(f"the benchmark server did not start: {line!r}")
        return line

    def __exit__(self, *exc_info: object) -> None:
        process = self._process
        if process is None:
            return
        self._process = None
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.close()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
        process.stdout.close()


def main() -> None:
    """Run the server until stdin closes or `--lifetime` passes; print its URL first."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--lifetime", type=float, default=600.0, help="stop after this many seconds")
    parser.add_argument("--interval", type=float, default=0.0, help="seconds between two events")
    args = parser.parse_args()

    async def run() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()

        def on_stdin() -> None:  # EOF on stdin: the parent is done (or gone)
            if not os.read(stdin, 4096):
                loop.remove_reader(stdin)
                stop.set()

        stdin = sys.stdin.fileno()
        with suppress(OSError, ValueError):  # stdin is no pipe (a file, /dev/null): no watching
            loop.add_reader(stdin, on_stdin)
        await serve(
            port=args.port,
            lifetime=args.lifetime,
            interval=args.interval,
            on_ready=lambda url: print(url, flush=True),
            stop=stop,
        )

    asyncio.run(run())


if __name__ == "__main__":
    main()
