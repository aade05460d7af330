"""`ReplayServer`: a loopback HTTP server that answers the real SDKs with queued replies.

Each request takes the next queued reply and is recorded. Scripted turns are written in the
wire format the request asks for (found from its path), so one script serves every
provider. The server binds 127.0.0.1 only, on a free port, and runs in a daemon thread.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal

from ..errors import ConfigurationError
from . import _requests
from ._render import Scripted, render_for
from ._reply import RecordedRequest, Reply
from ._script import ErrorReply, Turn
from ._wire import RenderContext, RenderError

Responder = Callable[[RecordedRequest], Scripted]
"""A function that chooses the reply to a request (a `Turn`, an `ErrorReply` or a `Reply`)."""

Queued = Turn | ErrorReply | Reply | Responder
"""What can be queued: a reply, or a function of the request that returns one."""

Provider = Literal["openai", "anthropic", "gemini"]
"""A provider whose SDKs the server can answer."""

_BASE_PATHS: dict[str, str] = {
    "openai": "/v1",
    "openai-responses": "/v1",
    "anthropic": "",
    "gemini": "",
    "gemini-legacy": "",
}


class ReplayServer:
    """Serves queued replies to the real provider SDKs, on 127.0.0.1, in a background thread.

    ```python
    with ReplayServer() as server:
        server.queue(Turn(Text("Hello", "!")))
        ...  # point a client at server.base_url("openai") and stream
        assert server.last_request.messages()[-1].content == "Hi"
    ```

    Attributes:
        requests: every request received, in order.
        failures: what went wrong on the server's side (a request with no reply queued, a
            script that cannot be written in the requested format, a failing responder).
    """

    def __init__(self) -> None:
        self._server = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._lock = threading.Lock()
        self._replies: deque[Queued] = deque()
        self._connections: set[socket.socket] = set()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self.requests: list[RecordedRequest] = []
        self.failures: list[str] = []

    # Life cycle

    def start(self) -> ReplayServer:
        """Start serving (once); returns the server."""
        if self._stopped:
            raise ConfigurationError("this ReplayServer was stopped; make a new one")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},  # so that stop() is quick
                name="mirastream-replay",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop every open connection (so pooled clients reconnect)."""
        if self._stopped:
            return
        self._stopped = True
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            _drop(connection)

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # Addresses

    @property
    def url(self) -> str:
        """The server's root URL, `http://127.0.0.1:<port>`."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def port(self) -> int:
        """The port the server listens on."""
        port: int = self._server.server_address[1]
        return port

    def base_url(self, provider: str) -> str:
        """The base URL to give `provider`'s SDK: `<url>/v1` for OpenAI, `<url>` for the others."""
        if provider not in _BASE_PATHS:
            raise ConfigurationError(
                f"unknown provider {provider!r}; use one of: {', '.join(sorted(_BASE_PATHS))}"
            )
        return self.url + _BASE_PATHS[provider]

    # Replies

    def queue(self, *replies: Queued) -> None:
        """Queue replies for the next requests, in order: scripted `Turn`s, `ErrorReply`s, raw
        `Reply`s, or functions that take the `RecordedRequest` and return one of those."""
        for reply in replies:
            if not isinstance(reply, (Turn, ErrorReply, Reply)) and not callable(reply):
                raise ConfigurationError(
                    "queue() takes Turn, ErrorReply and Reply objects, or functions of the request "
                    f"returning one, not {type(reply).__name__}: {reply!r}"
                )
        with self._lock:
            self._replies.extend(replies)

    def next_reply(self) -> Queued | None:
        """The next queued reply, taken off the queue (`None` when the queue is empty)."""
        with self._lock:
            return self._replies.popleft() if self._replies else None

    @property
    def pending(self) -> int:
        """How many queued replies no request has taken yet."""
        with self._lock:
            return len(self._replies)

    @property
    def last_request(self) -> RecordedRequest:
        """The most recent request."""
        if not self.requests:
            raise AssertionError("the server has received no request")
        return self.requests[-1]

    def reset(self) -> None:
        """Forget the queued replies, the recorded requests and the failures."""
        with self._lock:
            self._replies.clear()
            self.requests.clear()
            self.failures.clear()

    def check(self) -> None:
        """Fail if a request went unanswered or a queued reply was never used.

        Raises:
            AssertionError: listing the server's failures and the replies left in the queue.
        """
        __tracebackhide__ = True  # pytest shows the message, not this frame
        problems = list(self.failures)
        left = self.pending
        if left:
            problems.append(f"{left} queued {'reply was' if left == 1 else 'replies were'} never requested")
        if problems:
            raise AssertionError("the replay server saw problems:\n- " + "\n- ".join(problems))

    # Serving (called from the handler threads)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            request.number = len(self.requests) + 1
            self.requests.append(request)

    def _answer(self, request: RecordedRequest) -> Reply:
        wire = request.wire
        problem = None if wire is None else _requests.rejection(wire, request._body())
        if wire is not None and problem is not None:  # the real API answers 400; the queue waits
            return render_for(ErrorReply(400, problem), RenderContext(wire))
        queued = self.next_reply()
        if queued is None:
            return self._failure(request, "no reply was queued for it")
        try:
            reply = queued if isinstance(queued, (Turn, ErrorReply, Reply)) else queued(request)
        except Exception as error:  # the test's own responder failed: report it, answer an error
            return self._failure(request, f"the responder raised {error!r}")
        if isinstance(reply, Reply):
            return reply if not reply.adapt else self._render(request, reply)
        if not isinstance(reply, (Turn, ErrorReply)):
            return self._failure(request, f"the responder returned {type(reply).__name__}, not a reply")
        return self._render(request, reply)

    def _render(self, request: RecordedRequest, reply: Scripted) -> Reply:
        wire = request.wire
        if wire is None:
            if isinstance(reply, Reply):
                return reply
            return self._failure(request, "its path is none of the streaming endpoints a script can answer")
        try:
            context = RenderContext.of_request(wire, request.path, request._body(), request.number)
            return render_for(reply, context)
        except RenderError as error:
            return self._failure(request, str(error))

    def _failure(self, request: RecordedRequest, reason: str) -> Reply:
        message = f"mirastream.testing: request {request.number} ({request.method} {request.path}): {reason}"
        with self._lock:
            self.failures.append(message)
        wire = request.wire
        if wire is None:
            return Reply.error(400, {"error": {"message": message}})
        return render_for(ErrorReply(400, message), RenderContext(wire))

    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)


def _drop(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        return  # already closed by the other side


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: ReplayServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client dropping a connection is normal; anything else is a bug worth printing.
        if not isinstance(sys.exc_info()[1], (ConnectionError, OSError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, add=True)

    def finish(self) -> None:
        self.server.owner._track(self.connection, add=False)
        try:
            super().finish()
        except OSError:
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: tests read `requests`, not logs

    def do_POST(self) -> None:
        try:
            self._handle()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        owner = self.server.owner
        request = RecordedRequest(
            self.command,
            self.path,
            {name.lower(): value for name, value in self.headers.items()},
            body,
            self.client_address[1],
        )
        self._request = request
        owner._record(request)
        try:
            self._send(owner._answer(request))
        finally:
            request.finished.set()

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("content-type", reply.content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if not reply.is_chunked():
            self.send_header("content-length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
            return
        self.send_header("transfer-encoding", "chunked")
        self.send_header("cache-control", "no-cache")
        self.end_headers()
        pieces = reply.pieces()
        pauses = dict(reply.pauses)
        if reply.stall_after is not None:
            pauses[reply.stall_after] = pauses.get(reply.stall_after, 0.0) + reply.stall
        sent = 0
        for number, piece in enumerate(pieces):
            if pauses.get(number):
                time.sleep(pauses[number])
            if reply.cut_after is not None and sent + len(piece) > reply.cut_after:
                self._write_chunk(piece[: reply.cut_after - sent])
                self._cut()
                return
            if reply.delay:
                time.sleep(reply.delay)
            self._write_chunk(piece)
            sent += len(piece)
        if pauses.get(len(pieces)):
            time.sleep(pauses[len(pieces)])
        if reply.cut_after is not None:
            self._cut()
            return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _cut(self) -> None:
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True

    def _write_chunk(self, piece: bytes) -> None:
        if not piece:
            return
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            self._request.disconnected.set()
            raise
