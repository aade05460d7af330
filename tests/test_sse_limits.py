"""SSEDecoder beyond the event-stream rules: linear time, the event size limit, the end of the stream.

The end of the stream is compared with the `openai` SDK's own decoder, which drops an event
whose closing blank line never came; `deliver_unterminated=True` keeps it, as google-genai does.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mirastream._sse import RawEvent, SSEDecoder, aiter_events, iter_events, loads
from mirastream.errors import MalformedStreamError


def split_at(stream: bytes, cuts: Sequence[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(stream)]
    return [stream[start:end] for start, end in itertools.pairwise(bounds)]


async def _pieces(pieces: Sequence[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        await asyncio.sleep(0)
        yield piece


# --- linear time, bounded memory -------------------------------------------------------------


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"], ids=["LF", "CRLF"])
def test_a_10_mib_event_in_1_kib_pieces_is_decoded_in_linear_time(newline: bytes) -> None:
    payload = b"x" * (10 * 1024 * 1024)
    stream = b"data: " + payload + newline + newline
    decoder = SSEDecoder()
    events: list[RawEvent] = []
    started = time.perf_counter()
    for start in range(0, len(stream), 1024):
        events.extend(decoder.feed(stream[start : start + 1024]))
    elapsed = time.perf_counter() - started
    assert events == [(None, payload)]
    assert elapsed < 0.5, f"{elapsed:.2f} s: the decoder re-reads what it buffered"


def test_many_short_events_in_small_pieces_take_linear_time() -> None:
    stream = b"".join(b"data: %d\n\n" % number for number in range(100_000))
    decoder = SSEDecoder()
    started = time.perf_counter()
    events = [
        event for start in range(0, len(stream), 100) for event in decoder.feed(stream[start : start + 100])
    ]
    assert len(events) == 100_000 and events[-1] == (None, b"99999")
    assert time.perf_counter() - started < 2


def test_an_event_beyond_the_limit_raises_malformed() -> None:
    decoder = SSEDecoder(max_event_size=20)
    assert decoder.max_event_size == 20
    at_limit = b"data: 01234567890123"  # a 20-byte line
    assert decoder.feed(at_limit + b"\n\n") == [(None, b"01234567890123")]
    assert decoder.feed(b"data: 01\ndata: 2345\n\n") == [(None, b"01\n2345")]  # 8 + 1 + 10 bytes
    with pytest.raises(MalformedStreamError, match="beyond 20 bytes"):
        decoder.feed(b"data: 0123\ndata: 4567\n")  # 10 + 1 + 10 bytes


def test_a_line_that_never_ends_raises_before_it_outgrows_the_limit() -> None:
    decoder = SSEDecoder(max_event_size=1000)
    decoder.feed(b"data: ")
    buffered = []
    for _ in range(15):  # 6 + 15 * 64 = 966 bytes: still within the limit
        decoder.feed(b"x" * 64)
        buffered.append(len(decoder._line))
    assert buffered[-1] == 966
    with pytest.raises(MalformedStreamError):
        decoder.feed(b"x" * 64)
    assert len(decoder._line) == 0  # nothing of the refused event is kept


def test_a_whole_event_piece_beyond_the_limit_raises_too() -> None:
    decoder = SSEDecoder(max_event_size=10)
    assert decoder.feed(b"data: 1\n\n") == [(None, b"1")]  # the fast path is open
    with pytest.raises(MalformedStreamError):
        decoder.feed(b"data: 12345\n\n")


def test_comment_lines_do_not_count_towards_the_event_but_a_long_one_is_refused() -> None:
    decoder = SSEDecoder(max_event_size=14)
    assert decoder.feed(b": ping\n" * 10 + b"data: 12345678\n\n") == [(None, b"12345678")]
    with pytest.raises(MalformedStreamError):
        decoder.feed(b": " + b"p" * 20 + b"\n")


def test_the_limit_is_set_per_decoder_and_for_iter_events() -> None:
    with pytest.raises(ValueError):
        SSEDecoder(max_event_size=0)
    with pytest.raises(MalformedStreamError):
        list(iter_events([b"data: 123456\n\n"], max_event_size=11))
    assert list(iter_events([b"data: 12345\n\n"], max_event_size=11)) == [(None, b"12345")]


# --- the end of the stream, as the SDKs see it -------------------------------------------------


def openai_sdk_events(pieces: Sequence[bytes]) -> list[tuple[str | None, str]]:
    """What the `openai` SDK's own SSE decoder yields for the same pieces."""
    from openai._streaming import SSEDecoder as SDKDecoder

    return [(sse.event or None, sse.data) for sse in SDKDecoder().iter_bytes(iter(pieces))]


@pytest.mark.parametrize(
    "stream",
    [
        b"data: 1\n\ndata: 2",
        b"data: 1\n\ndata: 2\n",
        b"data: 1\n\ndata: 2\r",
        b"data: 1\r\n\r\ndata: 2\r\n",
        b"data: 1\n\nevent: stop\ndata: 2\n",
        b"data: 1\n\n",
    ],
)
def test_an_event_without_its_blank_line_is_dropped_at_the_end_as_the_openai_sdk_drops_it(
    stream: bytes,
) -> None:
    ours = [(event, data.decode()) for event, data in iter_events([stream])]
    assert ours == openai_sdk_events([stream]) == [(None, "1")]


def test_deliver_unterminated_keeps_the_last_event_as_google_genai_does() -> None:
    decoder = SSEDecoder(deliver_unterminated=True)
    assert decoder.feed(b"data: 1\n\nevent: last\ndata: 2") == [(None, b"1")]
    assert decoder.finish() == [("last", b"2")]
    assert decoder.finish() == []
    assert list(iter_events([b"data: 1\n\ndata: 2\n"], deliver_unterminated=True)) == [
        (None, b"1"),
        (None, b"2"),
    ]
    assert list(iter_events([b"data: 1\n\n: comment"], deliver_unterminated=True)) == [(None, b"1")]


def test_aiter_events_delivers_an_unterminated_event_when_asked() -> None:
    async def run() -> list[RawEvent]:
        return [
            event
            async for event in aiter_events(_pieces([b"data: 1\n", b"\ndata: 2"]), deliver_unterminated=True)
        ]

    assert asyncio.run(run()) == [(None, b"1"), (None, b"2")]


_wire_lines = st.lists(
    st.sampled_from(["data: a", "data: {}", "data:b", "event: x", ": ping", "id: 1", "", "data", "retry: 5"]),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(
    lines=_wire_lines, newline=st.sampled_from(["\n", "\r\n", "\r"]), cut=st.integers(0, 200), data=st.data()
)
def test_any_stream_cut_anywhere_gives_what_the_openai_sdk_gives(
    lines: list[str], newline: str, cut: int, data: st.DataObject
) -> None:
    stream = newline.join(lines).encode()[:cut]
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=6))
    pieces = split_at(stream, cuts)
    # The SDK also dispatches an event made of only `id:`, `retry:` or `event:` lines, with
    # empty data (which its JSON decoding then rejects); the standard dispatches none. Events
    # with data are the same, the last one cut off included.
    ours = [(event, payload.decode()) for event, payload in iter_events(pieces) if payload]
    assert ours == [(event, payload) for event, payload in openai_sdk_events(pieces) if payload]


# --- fuzz: any bytes, any split --------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(stream=st.binary(max_size=400), data=st.data(), limit=st.integers(1, 64))
def test_any_bytes_in_any_pieces_give_events_or_malformed_within_the_limit(
    stream: bytes, data: st.DataObject, limit: int
) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=8))
    decoder = SSEDecoder(max_event_size=limit)
    refused = None
    try:
        for piece in split_at(stream, cuts):
            for _event, payload in decoder.feed(piece):
                assert len(payload) <= limit - 5  # at least "data:" of each line counts
            assert len(decoder._line) <= limit
        decoder.finish()
    except MalformedStreamError as error:
        refused = error
    assert refused is None or f"beyond {limit} bytes" in str(refused)


def test_loads_turns_too_deep_nesting_into_value_error() -> None:
    with pytest.raises(ValueError, match="nested too deeply"):
        loads(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(ValueError, match="nested too deeply"):
        loads(b" " + b'{"a": ' * 100_000 + b"1" + b"}" * 100_000)
