"""An IO-free decoder for server-sent events (the wire format every provider streams in).

It follows the event-stream interpretation of the HTML standard: lines end in LF, CR or
CRLF (even when a CRLF is split between two reads), `data:` lines of one event are joined
with LF, comment lines are ignored, a leading byte order mark is skipped, and an event is
dispatched at the blank line that ends it; an event cut off before its blank line is never
dispatched.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, Generator, Iterable
from typing import NamedTuple

__all__ = ["SSEDecoder", "ServerSentEvent", "aiter_events", "iter_events"]

_BOM = b"\xef\xbb\xbf"


class ServerSentEvent(NamedTuple):
    """One event: its `event:` name (`None` when absent) and its data, undecoded."""

    event: str | None
    data: bytes


class SSEDecoder:
    """Turns the bytes of an event stream, in pieces of any size, into events."""

    __slots__ = ("_at_start", "_data", "_event", "_pending", "_skip_lf")

    def __init__(self) -> None:
        self._pending = b""
        self._event: str | None = None
        self._data: list[bytes] = []
        self._skip_lf = False  # the last piece ended in CR: an LF starting the next one ends no line
        self._at_start = True  # a byte order mark may still open the stream

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode the next piece of the stream; return the events it completes."""
        if self._skip_lf and chunk:
            self._skip_lf = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
        if self._pending:
            chunk = self._pending + chunk
        if self._at_start:
            if len(chunk) < len(_BOM) and _BOM.startswith(chunk):
                self._pending = chunk  # wait for the rest of a possible byte order mark
                return []
            self._at_start = False
            if chunk.startswith(_BOM):
                chunk = chunk[len(_BOM) :]
        if b"\r" in chunk:
            # A CR ending the piece ends its line; the LF of a CRLF may come with the next piece.
            self._skip_lf = chunk.endswith(b"\r")
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = chunk.split(b"\n")
        self._pending = lines.pop()
        events: list[ServerSentEvent] = []
        for line in lines:
            if not line:
                if self._data:
                    data = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
                    events.append(ServerSentEvent(self._event, data))
                    self._data = []
                self._event = None
            elif line == b"data" or line.startswith(b"data:"):
                self._data.append(line[6:] if line[5:6] == b" " else line[5:])
            elif line == b"event" or line.startswith(b"event:"):
                name = line[7:] if line[6:7] == b" " else line[6:]
                self._event = name.decode(errors="replace") or None  # an empty name is no name
            # Comments (":"), "id:", "retry:" and unknown fields do not concern us.
        return events

    def finish(self) -> list[ServerSentEvent]:
        """Flush at the end of the stream; an event without its closing blank line is dropped."""
        self._pending = b""
        self._skip_lf = False
        return []

    @property
    def has_partial_event(self) -> bool:
        """`True` when bytes of an unfinished event are buffered (a stream cut mid-event)."""
        return bool(self._pending.strip() or self._data)


def iter_events(chunks: Iterable[bytes]) -> Generator[ServerSentEvent, None, None]:
    """Decode an iterable of byte pieces into events."""
    decoder = SSEDecoder()
    for chunk in chunks:
        yield from decoder.feed(chunk)
    yield from decoder.finish()


async def aiter_events(chunks: AsyncIterable[bytes]) -> AsyncGenerator[ServerSentEvent, None]:
    """Decode an async iterable of byte pieces into events."""
    decoder = SSEDecoder()
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.finish():
        yield event
