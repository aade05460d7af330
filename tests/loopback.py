"""A loopback HTTP server that replays scripted provider responses to the real SDKs.

Tests queue :class:`Reply` objects; each request takes the next one and is recorded, so a
test can assert both what the SDK received and what it sent. The server binds 127.0.0.1
only and serves streamed bodies with chunked transfer encoding, like the real APIs.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

TRANSCRIPTS = Path(__file__).parent / "transcripts"


def transcript(name: str) -> bytes:
    """The bytes of ``tests/transcripts/<name>``."""
    return (TRANSCRIPTS / name).read_bytes()


@dataclass
class Reply:
    """One scripted response.

    Attributes:
        body: the bytes to send.
        status: the HTTP status.
        headers: extra headers.
        content_type: ``text/event-stream`` for streams, ``application/json`` for errors.
        piece_size: send the body in pieces of this many bytes (``None``: one event per write).
        delay: seconds to wait between pieces.
        cut_after: drop the connection, without ending the chunked body, after this many bytes.
        chunked: stream the body with chunked transfer encoding, in pieces (default: for
            `text/event-stream` only; set it for other streamed formats, e.g. a JSON array).
        stall_after: after this many pieces, go silent for `stall` seconds (then go on).
        stall: how long the stall lasts.
    """

    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/event-stream"
    piece_size: int | None = None
    delay: float = 0.0
    cut_after: int | None = None
    chunked: bool | None = None
    stall_after: int | None = None
    stall: float = 0.0

    @classmethod
    def sse(cls, name: str, **options: Any) -> Reply:
        """A stream replayed from a transcript file."""
        return cls(transcript(name), **options)

    @classmethod
    def error(cls, status: int, payload: dict[str, Any], **options: Any) -> Reply:
        """A JSON error response."""
        return cls(json.dumps(payload).encode(), status=status, content_type="application/json", **options)


@dataclass
class Recorded:
    """A request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int
    disconnected: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)

    def json(self) -> Any:
        return json.loads(self.body)


def _pieces(reply: Reply) -> list[bytes]:
    body = reply.body
    if reply.piece_size is not None:
        return [body[i : i + reply.piece_size] for i in range(0, len(body), reply.piece_size)]
    # One write per event, the way a real server flushes.
    events = body.split(b"\n\n")
    pieces = [event + b"\n\n" for event in events[:-1]]
    if events[-1]:
        pieces.append(events[-1])
    return pieces


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        record = Recorded(
            self.command,
            self.path,
            {k.lower(): v for k, v in self.headers.items()},
            body,
            self.client_address[1],
        )
        self._record = record
        self.server.owner.requests.append(record)
        try:
            self._reply(self.server.owner.next_reply())
        finally:
            record.finished.set()

    def _reply(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("content-type", reply.content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        chunked = reply.chunked if reply.chunked is not None else reply.content_type == "text/event-stream"
        if not chunked:
            self.send_header("content-length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
            return
        self.send_header("transfer-encoding", "chunked")
        self.send_header("cache-control", "no-cache")
        self.end_headers()
        sent = 0
        for number, piece in enumerate(_pieces(reply)):
            if number == reply.stall_after:
                time.sleep(reply.stall)
            if reply.cut_after is not None and sent + len(piece) > reply.cut_after:
                piece = piece[: reply.cut_after - sent]
                if piece:
                    self._write_chunk(piece)
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            if reply.delay:
                time.sleep(reply.delay)
            self._write_chunk(piece)
            sent += len(piece)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _write_chunk(self, piece: bytes) -> None:
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            self._record.disconnected.set()
            raise

    def do_POST(self) -> None:
        try:
            self._handle()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: LoopbackServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client dropping an idle keep-alive connection is normal; anything else is a bug.
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


class LoopbackServer:
    """Serves queued replies on 127.0.0.1 on a free port, in a background thread."""

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._replies: deque[Reply] = deque()
        self.requests: list[Recorded] = []
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def queue(self, *replies: Reply) -> None:
        """Queue replies for the next requests, in order."""
        self._replies.extend(replies)

    def next_reply(self) -> Reply:
        if not self._replies:
            return Reply.error(500, {"error": {"message": "no reply queued", "type": "test_error"}})
        return self._replies.popleft()

    def reset(self) -> None:
        self._replies.clear()
        self.requests.clear()

    @property
    def last_request(self) -> Recorded:
        return self.requests[-1]
