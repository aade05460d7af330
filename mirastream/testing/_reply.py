"""What the replay server sends (`Reply`) and what it keeps of each request (`RecordedRequest`)."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from ..messages import Message
from . import _requests
from ._wire import Wire, detect_wire, requested_model


@dataclass
class Reply:
    """One HTTP response, byte for byte, with optional faults on the wire.

    A streamed body is sent with chunked transfer encoding, one write per event (split at
    blank lines), the way the real APIs flush.

    Attributes:
        body: the bytes to send.
        status: the HTTP status.
        headers: extra headers.
        content_type: `text/event-stream` for streams, `application/json` for errors.
        piece_size: send the body in pieces of this many bytes instead of one per event.
        delay: seconds to wait before each piece.
        cut_after: drop the connection after this many bytes of the body, without ending the
            chunked body (`len(body)`: after the whole body).
        chunked: stream the body with chunked transfer encoding, in pieces (default: for
            `text/event-stream` only; set it for other streamed formats, e.g. a JSON array).
        stall_after: after this many pieces, go silent for `stall` seconds (then go on).
        stall: how long that stall lasts.
        pauses: seconds of silence before piece `i` (`{len(pieces): s}`: before the end).
        adapt: the body is a Gemini SSE transcript: to the legacy `google-generativeai`
            client, send it as the JSON array that client reads (faults then count pieces and
            bytes of that array).
    """

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/event-stream"
    piece_size: int | None = None
    delay: float = 0.0
    cut_after: int | None = None
    chunked: bool | None = None
    stall_after: int | None = None
    stall: float = 0.0
    pauses: dict[int, float] = field(default_factory=dict)
    adapt: bool = False

    @classmethod
    def transcript(cls, source: bytes | str | os.PathLike[str], **options: Any) -> Reply:
        """A recorded SSE stream, from its bytes or from a file, replayed as it was recorded.

        A Gemini transcript is also served to the legacy client, as the JSON array it reads.
        `options` are the other `Reply` fields (`delay`, `cut_after`, ...).
        """
        if isinstance(source, bytes):
            body = source
        else:
            with open(source, "rb") as file:
                body = file.read()
        return cls(body, adapt=True, **options)

    @classmethod
    def error(cls, status: int, payload: Any, **options: Any) -> Reply:
        """A JSON response with `status` and exactly `payload` as its body."""
        body = json.dumps(payload).encode()
        return cls(body, status=status, content_type="application/json", **options)

    def is_chunked(self) -> bool:
        """Whether the body is streamed in pieces with chunked transfer encoding."""
        return self.chunked if self.chunked is not None else self.content_type == "text/event-stream"

    def pieces(self) -> list[bytes]:
        """The body in the pieces it is written in."""
        body = self.body
        if self.piece_size is not None:
            return [body[i : i + self.piece_size] for i in range(0, len(body), self.piece_size)]
        events = body.split(b"\n\n")
        pieces = [event + b"\n\n" for event in events[:-1]]
        if events[-1]:
            pieces.append(events[-1])
        return pieces


@dataclass
class RecordedRequest:
    """A request the server received, as the SDK sent it.

    Attributes:
        method: `POST` (or `GET`).
        path: the path with its query string, e.g. `/v1/chat/completions`.
        headers: the headers, names in lower case.
        body: the raw body.
        client_port: the client's port (to find its connection).
        number: the request's position on the server, from 1.
        disconnected: set when the client went away while the reply was being written.
        finished: set once the server is done with the request.
    """

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int
    number: int = 0
    disconnected: threading.Event = field(default_factory=threading.Event, repr=False)
    finished: threading.Event = field(default_factory=threading.Event, repr=False)

    def json(self) -> Any:
        """The body decoded from JSON."""
        return json.loads(self.body)

    @property
    def wire(self) -> Wire | None:
        """The wire format the request asks for (`"openai"`, `"openai-responses"`,
        `"anthropic"`, `"gemini"`, `"gemini-legacy"`), from its path; `None` for other paths."""
        return detect_wire(self.path)

    @property
    def model(self) -> str | None:
        """The model the request asks for."""
        wire = self.wire
        return None if wire is None else requested_model(wire, self.path, self._body())

    def messages(self) -> list[Message]:
        """The conversation the request sends, as provider-neutral messages (system first).

        The same script sent through any provider reads back as the same messages, so
        assertions on it work for every provider. Tool messages carry the name of the tool.
        """
        wire = self.wire
        return [] if wire is None else _requests.messages(wire, self._body())

    def tool_names(self) -> list[str]:
        """The names of the function tools the request declares, in order."""
        wire = self.wire
        return [] if wire is None else _requests.tool_names(wire, self._body())

    def _body(self) -> Any:
        try:
            return self.json()
        except ValueError:
            return None
