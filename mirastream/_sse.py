"""An IO-free decoder for server-sent events (the wire format every provider streams in).

It follows the event-stream interpretation of the HTML standard: lines end in LF, CR or
CRLF (even when a CRLF is split between two reads), ``data:`` lines of one event are joined
with LF, comment lines are ignored, and an event is dispatched at the blank line that ends
it; an event cut off before its blank line is never dispatched.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, Generator, Iterable
from typing import NamedTuple

__all__ = ["SSEDecoder", "ServerSentEvent", "aiter_events", "iter_events"]


class ServerSentEvent(NamedTuple):
    """One event: its ``event:`` name (``None`` when absent) and its data, undecoded."""

    event: str | None
    data: bytes


class SSEDecoder:
    """Turns the bytes of an event stream, in pieces of any size, into events."""

    __slots__ = ("_data", "_event", "_pending")

    def __init__(self) -> None:
        self._pending = b""
        self._event: str | None = None
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode the next piece of the stream; return the events it completes."""
        if self._pending:
            chunk = self._pending + chunk
        if b"\r" in chunk:
            if chunk.endswith(b"\r"):
                # The LF of a CRLF may be in the next piece: decide then.
                self._pending = chunk
                return []
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
            elif line.startswith(b"data:"):
                self._data.append(line[6:] if line[5:6] == b" " else line[5:])
            elif line.startswith(b"event:"):
                self._event = (line[7:] if line[6:7] == b" " else line[6:]).decode()
            # Comments (":"), "id:", "retry:" and unknown fields do not concern us.
        return events

    def finish(self) -> list[ServerSentEvent]:
        """Flush at the end of the stream; an event without its closing blank line is dropped."""
        pending, self._pending = self._pending, b""
        if pending.endswith(b"\r"):
            return self.feed(pending[:-1] + b"\n")
        return []

    @property
    def has_partial_event(self) -> bool:
        """``True`` when bytes of an unfinished event are buffered (a stream cut mid-event)."""
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
