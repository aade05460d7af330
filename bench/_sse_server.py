"""A fast loopback SSE server for load benchmarks: thousands of generated chat streams at once.

Each request names its stream in its prompt as ``load-stream:<number>:<chunks>``. The server
answers with ``chunks`` generated text pieces (see `piece`) in the wire format of the API the
path belongs to: OpenAI Chat Completions (``.../chat/completions``), Anthropic Messages
(``.../messages``) or Gemini (``...:streamGenerateContent``). Every stream's text is unique,
so a response delivered to the wrong caller shows. ``GET /stats`` reports what the server saw
(``?reset=1`` restarts the peaks).

One asyncio event loop serves every connection (keep-alive, chunked transfer encoding, one
write per event). It binds 127.0.0.1 only and stops by itself after ``lifetime`` seconds, or,
run as a script, as soon as its stdin ends (its parent closed the pipe, or exited)::

    python bench/_sse_server.py --lifetime 600   # prints its URL, then serves
"""

from __future__ import annotations

import argparse
import asyncio
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

__all__ = ["ServerProcess", "Stats", "expected_text", "fetch_stats", "piece", "serve", "usage_of"]

HOST = "127.0.0.1"
MAX_CHUNKS = 100_000
MAX_REQUESTS_PER_CONNECTION = 100_000
MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 1024 * 1024
_NAME = re.compile(rb"load-stream:(\d{1,9}):(\d{1,9})")


def piece(stream: int, index: int) -> str:
    """The text of chunk `index` of stream `stream` (a non-ASCII dot: 2 bytes of UTF-8)."""
    return f" {stream}\u00b7{index}"


def expected_text(stream: int, chunks: int) -> str:
    """The whole text the server streams for stream `stream`."""
    return "".join(piece(stream, index) for index in range(chunks))


def usage_of(stream: int, chunks: int) -> tuple[int, int]:
    """The (input, output) token counts the server reports for a stream."""
    return 10 + stream, chunks


def _openai_events(stream: int, chunks: int) -> Iterator[bytes]:
    start = b'data: {"id":"chatcmpl-load%d","object":"chat.completion.chunk","created":1763721600,' % stream
    start += b'"model":"gpt-4o-mini-2024-07-18",'
    head = start + b'"choices":[{"index":0,"delta":'
    tail = b',"logprobs":null}],"usage":null}\n\n'
    yield head + b'{"role":"assistant","content":""},"finish_reason":null' + tail
    for index in range(chunks):
        content = json.dumps(piece(stream, index), ensure_ascii=False).encode()
        yield head + b'{"content":' + content + b'},"finish_reason":null' + tail
    yield head + b'{},"finish_reason":"stop"' + tail
    prompt, completion = usage_of(stream, chunks)
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    yield start + b'"choices":[],"usage":' + json.dumps(usage).encode() + b"}\n\n"
    yield b"data: [DONE]\n\n"


def _anthropic_events(stream: int, chunks: int) -> Iterator[bytes]:
    prompt, completion = usage_of(stream, chunks)
    message = {
        "type": "message_start",
        "message": {
            "model": "claude-sonnet-4-6",
            "id": f"msg_load{stream}",
            "type": "message",
            "role": "assistant",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": prompt, "output_tokens": 1},
        },
    }
    yield b"event: message_start\ndata: " + json.dumps(message).encode() + b"\n\n"
    yield (
        b"event: content_block_start\n"
        b'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'
    )
    head = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    head += b'"delta":{"type":"text_delta","text":'
    for index in range(chunks):
        yield head + json.dumps(piece(stream, index), ensure_ascii=False).encode() + b"}}\n\n"
    yield b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": completion},
    }
    yield b"event: message_delta\ndata: " + json.dumps(delta).encode() + b"\n\n"
    yield b'event: message_stop\ndata: {"type":"message_stop"}\n\n'


def _gemini_events(stream: int, chunks: int) -> Iterator[bytes]:
    prompt, completion = usage_of(stream, chunks)
    for index in range(chunks):
        candidate: dict[str, Any] = {"content": {"parts": [{"text": piece(stream, index)}], "role": "model"}}
        usage = {"promptTokenCount": prompt, "totalTokenCount": prompt}
        if index == chunks - 1:  # the last chunk says why it stopped and counts the output
            candidate["finishReason"] = "STOP"
            usage = {
                "promptTokenCount": prompt,
                "candidatesTokenCount": completion,
                "totalTokenCount": prompt + completion,
            }
        candidate["index"] = 0
        payload = {
            "candidates": [candidate],
            "usageMetadata": usage,
            "modelVersion": "gemini-2.5-flash",
            "responseId": f"load{stream}",
        }
        yield b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n"


def _wire_format(path: bytes) -> Callable[[int, int], Iterator[bytes]] | None:
    route = path.split(b"?", 1)[0]
    if route.endswith(b"/chat/completions"):
        return _openai_events
    if route.endswith(b"/messages"):
        return _anthropic_events
    if route.endswith(b":streamGenerateContent"):
        return _gemini_events
    return None


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
            events = _wire_format(path)
            name = _NAME.search(body)
            if method != b"POST" or events is None or name is None or int(name[2]) > MAX_CHUNKS:
                self._send_json(writer, 404, {"error": {"message": "not a load-stream request"}})
            else:
                await self._stream(writer, events(int(name[1]), int(name[2])))
        await writer.drain()
        return keep_alive

    def _send_json(self, writer: asyncio.StreamWriter, status: int, payload: object) -> None:
        body = json.dumps(payload).encode()
        writer.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
            % (status, b"OK" if status == 200 else b"Not Found", len(body), body)
        )

    async def _stream(self, writer: asyncio.StreamWriter, events: Iterator[bytes]) -> None:
        stats = self.stats
        stats.open_streams += 1
        stats.peak_streams = max(stats.peak_streams, stats.open_streams)
        try:
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
                b"transfer-encoding: chunked\r\n\r\n"
            )
            for index, event in enumerate(events):  # finite: MAX_CHUNKS bounds it
                if index:  # one event per turn of the loop, so streams interleave like real ones
                    await asyncio.sleep(self.interval)
                writer.write(b"%x\r\n%s\r\n" % (len(event), event))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
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
        command = [sys.executable, str(Path(__file__).resolve()), "--lifetime", str(self.lifetime)]
        command += ["--interval", str(self.interval)]
        self._process = process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
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
