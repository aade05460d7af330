"""An IO-free decoder for server-sent events (the wire format every provider streams in).

It follows the event-stream interpretation of the HTML standard: lines end in LF, CR or
CRLF (even when a CRLF is split between two reads), `data:` lines of one event are joined
with LF, comment lines are ignored, a leading byte order mark is skipped, and an event is
dispatched at the blank line that ends it.

At the end of the stream, an event cut off before its blank line is dropped, as the
`openai` and `anthropic` SDKs' decoders drop it; `google-genai` delivers it, and a decoder
made with `deliver_unterminated=True` does the same.

The decoder's work is linear in the bytes it is fed, however they are split: a line that
spans many pieces is gathered in one growing buffer, never re-joined per piece. One event
may hold at most `max_event_size` bytes (16 MiB by default, counting its `data:` lines as
sent and the line being read); a larger one raises `MalformedStreamError`, so a server that
never ends its line cannot exhaust memory.

Providers flush one whole event at a time, so most pieces hold exactly one event with LF
line endings; `SSEDecoder.feed` takes those apart without splitting them into lines.
Events are plain `(event, data)` tuples (`RawEvent`), which the providers' decoders read
cheaply; `ServerSentEvent` is the same tuple with names, equal to it, for building events
by hand.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterable, Generator, Iterable
from json.scanner import make_scanner
from typing import Any, NamedTuple

from .errors import MalformedStreamError

__all__ = [
    "DEFAULT_MAX_EVENT_SIZE",
    "RawEvent",
    "SSEDecoder",
    "ServerSentEvent",
    "aiter_events",
    "iter_events",
    "json_object",
    "loads",
]

DEFAULT_MAX_EVENT_SIZE = 16 * 1024 * 1024
"""The largest event a decoder accepts by default, in bytes (16 MiB)."""

_BOM = b"\xef\xbb\xbf"
_CR = 13  # bytes membership of an int is a plain memchr, far cheaper than of a bytes needle
_LF = 10

RawEvent = tuple["str | None", bytes]
"""An event as `(event name or None, data)`, what the providers' decoders are fed."""


class ServerSentEvent(NamedTuple):
    """One event: its `event:` name (`None` when absent) and its data, undecoded."""

    event: str | None
    data: bytes


class SSEDecoder:
    """Turns the bytes of an event stream, in pieces of any size, into events.

    Args:
        max_event_size: the most bytes one event may hold: its `data:` lines as sent, with
            one byte for each line end between them, and the line being read (any line,
            comments too); beyond it `feed` raises `MalformedStreamError`.
        deliver_unterminated: at `finish`, deliver an event whose closing blank line never
            came (google-genai's behaviour) instead of dropping it (the OpenAI and Anthropic
            SDKs' behaviour, the default).
    """

    __slots__ = (
        "_at_start",
        "_clean",
        "_data",
        "_data_size",
        "_deliver_unterminated",
        "_event",
        "_line",
        "_max_event_size",
        "_skip_lf",
    )

    def __init__(
        self, *, max_event_size: int = DEFAULT_MAX_EVENT_SIZE, deliver_unterminated: bool = False
    ) -> None:
        if max_event_size < 1:
            raise ValueError(f"max_event_size must be at least 1 byte, not {max_event_size}")
        self._max_event_size = max_event_size
        self._deliver_unterminated = deliver_unterminated
        self._line = bytearray()  # the start of a line whose end has not arrived yet
        self._event: str | None = None
        self._data: list[bytes] = []
        self._data_size = 0  # bytes of the event's data lines as sent, each with its line end
        self._skip_lf = False  # the last piece ended in CR: an LF starting the next one ends no line
        self._at_start = True  # a byte order mark may still open the stream
        self._clean = False  # nothing buffered, no flag set: a piece of whole events may take the fast path

    @property
    def max_event_size(self) -> int:
        """The most bytes one event may hold."""
        return self._max_event_size

    def feed(self, chunk: bytes) -> list[RawEvent]:
        """Decode the next piece of the stream; return the events it completes.

        Raises:
            MalformedStreamError: the event being read grew beyond `max_event_size`.
        """
        if (
            self._clean
            and chunk.endswith(b"\n\n")
            and _CR not in chunk
            and len(chunk) <= self._max_event_size
        ):
            # One whole event of one data line (and maybe a name line): no line splitting.
            if chunk.startswith(b"data: "):
                data = chunk[6:-2]
                if _LF not in data:
                    return [(None, data)]
            elif chunk.startswith(b"event: "):
                end = chunk.index(b"\n")
                if chunk.startswith(b"data: ", end + 1):
                    data = chunk[end + 7 : -2]
                    if _LF not in data:
                        return [(_event_name(chunk[7:end]), data)]
        return self._feed_lines(chunk)

    def _feed_lines(self, chunk: bytes) -> list[RawEvent]:
        """The general case: split the piece into lines and interpret each."""
        if self._skip_lf and chunk:
            self._skip_lf = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
        if self._at_start:
            if self._line:
                chunk = bytes(self._line) + chunk  # at most the first bytes of a byte order mark
                self._line.clear()
            if len(chunk) < len(_BOM) and _BOM.startswith(chunk):
                self._line += chunk  # wait for the rest of a possible byte order mark
                return []
            self._at_start = False
            if chunk.startswith(_BOM):
                chunk = chunk[len(_BOM) :]
        if _CR in chunk:
            # A CR ending the piece ends its line; the LF of a CRLF may come with the next piece.
            self._skip_lf = chunk.endswith(b"\r")
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if _LF not in chunk:
            # The middle of a long line: gather it; it is split once, when its end arrives.
            self._line += chunk
            self._check_size(len(self._line))
            self._clean = False
            return []
        lines = chunk.split(b"\n")
        if self._line:
            self._line += lines[0]
            lines[0] = bytes(self._line)
            self._line.clear()
        rest = lines.pop()
        events = self._interpret(lines)
        if rest:
            self._line += rest
            self._check_size(len(rest))
        self._clean = not (rest or self._data or self._skip_lf) and self._event is None
        return events

    def _interpret(self, lines: list[bytes]) -> list[RawEvent]:
        """Apply the event-stream rules to complete lines; return the events they dispatch."""
        data = self._data
        limit = self._max_event_size
        events: list[RawEvent] = []
        for line in lines:
            if not line:
                if data:
                    events.append((self._event, data[0] if len(data) == 1 else b"\n".join(data)))
                    data = self._data = []
                    self._data_size = 0
                self._event = None
                continue
            if self._data_size + len(line) > limit:
                self._too_large()
            if line.startswith(b"data"):
                if line.startswith(b"data: "):
                    data.append(line[6:])
                elif line == b"data" or line[4] == 58:  # 58 is ":"
                    data.append(line[5:])
                else:
                    continue  # another field whose name starts with "data"
                self._data_size += len(line) + 1
            elif line == b"event" or line.startswith(b"event:"):
                name = line[7:] if line[6:7] == b" " else line[6:]
                self._event = name.decode(errors="replace") or None  # an empty name is no name
            # Comments (":"), "id:", "retry:" and unknown fields do not concern us.
        return events

    def _check_size(self, pending: int) -> None:
        """Raise when the event being read (its data lines and `pending` bytes of a line) is too large."""
        if self._data_size + pending > self._max_event_size:
            self._too_large()

    def _too_large(self) -> None:
        self._line.clear()
        self._data = []
        self._data_size = 0
        raise MalformedStreamError(
            f"a server-sent event grew beyond {self._max_event_size} bytes (the decoder's "
            "max_event_size) without ending; the stream was stopped"
        )

    def finish(self) -> list[RawEvent]:
        """Flush at the end of the stream.

        An event without its closing blank line is dropped, or delivered when the decoder
        was made with `deliver_unterminated=True`.
        """
        events: list[RawEvent] = []
        if self._deliver_unterminated:
            lines = [bytes(self._line)] if self._line else []
            events = self._interpret([*lines, b""])
        self._line.clear()
        self._data = []
        self._data_size = 0
        self._event = None
        self._skip_lf = False
        return events

    @property
    def has_partial_event(self) -> bool:
        """`True` when bytes of an unfinished event are buffered (a stream cut mid-event)."""
        return bool(self._line.strip() or self._data)


_event_names: dict[bytes, str | None] = {}


def _event_name(raw: bytes) -> str | None:
    """An `event:` value as text (`None` when empty); the few names a provider uses are cached."""
    name = _event_names.get(raw)
    if name is None:
        name = raw.decode(errors="replace") or None
        if len(_event_names) < 256:
            _event_names[raw] = name
    return name


def iter_events(
    chunks: Iterable[bytes],
    *,
    max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
    deliver_unterminated: bool = False,
) -> Generator[RawEvent, None, None]:
    """Decode an iterable of byte pieces into events (see `SSEDecoder` for the options)."""
    decoder = SSEDecoder(max_event_size=max_event_size, deliver_unterminated=deliver_unterminated)
    feed = decoder.feed
    for chunk in chunks:
        yield from feed(chunk)
    yield from decoder.finish()


async def aiter_events(
    chunks: AsyncIterable[bytes],
    *,
    max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
    deliver_unterminated: bool = False,
) -> AsyncGenerator[RawEvent, None]:
    """Decode an async iterable of byte pieces into events (see `SSEDecoder` for the options)."""
    decoder = SSEDecoder(max_event_size=max_event_size, deliver_unterminated=deliver_unterminated)
    feed = decoder.feed
    async for chunk in chunks:
        for event in feed(chunk):
            yield event
    for event in decoder.finish():
        yield event


# The scanner `json.loads` runs, minus its per-call checks; any object with a decoder's
# settings is a valid context, which the stubs do not say.
_scan_once = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


def loads(data: bytes) -> Any:
    """`json.loads(data)` for an event's data, without its per-call overhead in the usual case.

    UTF-8 text that is one JSON value with nothing around it is scanned directly; anything
    else (surrounding whitespace, another encoding, invalid JSON) goes to `json.loads`, so the
    result, and the error for bad data, are `json.loads`'s. The one difference: nesting too
    deep for the parser raises `ValueError`, not `RecursionError`.
    """
    try:
        try:
            text = data.decode()
            value, end = _scan_once(text, 0)
        except (ValueError, StopIteration):
            return json.loads(data)
        if end != len(text):
            return json.loads(data)
    except RecursionError:
        raise ValueError("the JSON value is nested too deeply to parse") from None
    return value


def json_object(data: bytes, provider: str) -> dict[str, Any]:
    """An event's data parsed with `loads`; it must be a JSON object.

    Raises:
        MalformedStreamError: the data is not JSON, or not an object.
    """
    try:
        payload = loads(data)
    except ValueError as error:
        raise MalformedStreamError(
            f"{provider} sent an event that is not JSON ({error}): {data[:200]!r}", provider=provider
        ) from error
    if not isinstance(payload, dict):
        raise MalformedStreamError(
            f"{provider} sent an event that is not a JSON object: {data[:200]!r}", provider=provider
        )
    return payload
