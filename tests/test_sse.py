"""SSEDecoder, iter_events and aiter_events against the WHATWG event-stream rules."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mirastream._sse import (
    RawEvent,
    ServerSentEvent,
    SSEDecoder,
    aiter_events,
    iter_events,
    loads,
)

BOM = b"\xef\xbb\xbf"


def feed_all(pieces: Sequence[bytes]) -> list[RawEvent]:
    decoder = SSEDecoder()
    events: list[RawEvent] = []
    for piece in pieces:
        events.extend(decoder.feed(piece))
    events.extend(decoder.finish())
    return events


def decode(stream: bytes) -> list[RawEvent]:
    return feed_all([stream])


def one_byte_at_a_time(stream: bytes) -> list[bytes]:
    return [stream[i : i + 1] for i in range(len(stream))]


# --- line endings --------------------------------------------------------------------------


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
def test_every_line_ending_delimits_lines_and_events(newline: bytes) -> None:
    stream = newline.join([b"event: delta", b"data: one", b"data: two", b"", b"data: three", b"", b""])
    assert decode(stream) == [ServerSentEvent("delta", b"one\ntwo"), ServerSentEvent(None, b"three")]


def test_mixed_line_endings_in_one_stream() -> None:
    stream = b"data: a\rdata: b\r\ndata: c\n\r\ndata: d\r\r"
    assert decode(stream) == [ServerSentEvent(None, b"a\nb\nc"), ServerSentEvent(None, b"d")]


def test_crlf_split_between_two_feeds_is_one_line_ending() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    # The LF completes the CRLF of the data line: it must not count as the blank line.
    assert decoder.feed(b"\ndata: b\r") == []
    assert decoder.feed(b"\n\r") == [ServerSentEvent(None, b"a\nb")]
    assert decoder.feed(b"\n") == []
    assert decoder.finish() == []


def test_cr_then_lf_in_separate_feeds_never_makes_a_blank_line() -> None:
    # With CRLF split on every line, a decoder that treated the lone LF as a line of its own
    # would dispatch "a" and "b" separately.
    assert feed_all([b"data: a\r", b"\n", b"data: b\r", b"\n", b"\r", b"\n"]) == [
        ServerSentEvent(None, b"a\nb")
    ]


def test_empty_feed_between_cr_and_lf_keeps_the_crlf_together() -> None:
    assert feed_all([b"data: a\r", b"", b"\ndata: b\n\n"]) == [ServerSentEvent(None, b"a\nb")]


def test_cr_terminated_event_is_dispatched_by_the_feed_that_completes_it() -> None:
    """A CR ending a piece already ends the line: the event must not wait for the next piece."""
    decoder = SSEDecoder()
    assert decoder.feed(b"data: x\r\r") == [ServerSentEvent(None, b"x")]
    assert decoder.feed(b"data: y\r") == []
    assert decoder.feed(b"\r") == [ServerSentEvent(None, b"y")]


def test_cr_only_stream_flushed_at_line_ends_streams_events_as_they_arrive() -> None:
    lines = [b"data: 1\r", b"\r", b"data: 2\r", b"\r", b"data: 3\r", b"\r"]
    decoder = SSEDecoder()
    emitted = [decoder.feed(line) for line in lines]
    assert emitted == [
        [],
        [ServerSentEvent(None, b"1")],
        [],
        [ServerSentEvent(None, b"2")],
        [],
        [ServerSentEvent(None, b"3")],
    ]


# --- fields ----------------------------------------------------------------------------------


def test_multiple_data_lines_are_joined_with_lf() -> None:
    assert decode(b"data: a\ndata: b\ndata: c\n\n") == [ServerSentEvent(None, b"a\nb\nc")]


def test_only_one_space_after_the_colon_is_removed() -> None:
    assert decode(b"data:  two spaces\n\ndata:none\n\ndata: one \n\n") == [
        ServerSentEvent(None, b" two spaces"),
        ServerSentEvent(None, b"none"),
        ServerSentEvent(None, b"one "),
    ]


def test_tab_after_the_colon_is_kept() -> None:
    assert decode(b"data:\tx\n\n") == [ServerSentEvent(None, b"\tx")]


def test_colons_after_the_first_belong_to_the_value() -> None:
    assert decode(b'data: {"a": "b:c"}\n\n') == [ServerSentEvent(None, b'{"a": "b:c"}')]


def test_empty_data_line_dispatches_an_event_with_empty_data() -> None:
    assert decode(b"data:\n\n") == [ServerSentEvent(None, b"")]
    assert decode(b"data: \n\n") == [ServerSentEvent(None, b"")]


def test_data_field_without_colon_counts_as_empty_data() -> None:
    # WHATWG: a line without a colon is a field whose name is the whole line, value empty.
    assert decode(b"data\n\n") == [ServerSentEvent(None, b"")]
    assert decode(b"data: a\ndata\ndata: b\n\n") == [ServerSentEvent(None, b"a\n\nb")]


def test_empty_data_lines_are_kept_when_joining() -> None:
    assert decode(b"data:\ndata:\n\n") == [ServerSentEvent(None, b"\n")]


def test_event_name_is_captured_and_reset_after_each_event() -> None:
    stream = b"event: first\ndata: 1\n\ndata: 2\n\nevent:second\ndata: 3\n\n"
    assert decode(stream) == [
        ServerSentEvent("first", b"1"),
        ServerSentEvent(None, b"2"),
        ServerSentEvent("second", b"3"),
    ]


def test_event_name_is_reset_by_a_blank_line_even_without_data() -> None:
    assert decode(b"event: lost\n\ndata: x\n\n") == [ServerSentEvent(None, b"x")]


def test_last_event_line_wins() -> None:
    assert decode(b"event: a\nevent: b\ndata: x\n\n") == [ServerSentEvent("b", b"x")]


def test_empty_event_name_means_no_event_name() -> None:
    assert decode(b"event:\ndata: x\n\n") == [ServerSentEvent(None, b"x")]
    assert decode(b"event: a\nevent\ndata: x\n\n") == [ServerSentEvent(None, b"x")]


def test_event_name_is_decoded_as_utf8() -> None:
    assert decode("event: café\ndata: x\n\n".encode()) == [ServerSentEvent("café", b"x")]


def test_invalid_utf8_in_event_name_does_not_crash_the_decoder() -> None:
    ((name, data),) = decode(b"event: \xff\ndata: x\n\n")
    assert name == "\ufffd"
    assert data == b"x"


def test_data_bytes_are_passed_through_undecoded() -> None:
    assert decode(b"data: \xff\xfe\x00\n\n") == [ServerSentEvent(None, b"\xff\xfe\x00")]


def test_comments_id_retry_and_unknown_fields_are_ignored() -> None:
    stream = (
        b": this is a comment\n"
        b":\n"
        b"id: 42\n"
        b"retry: 1000\n"
        b"foo: bar\n"
        b"database: not data\n"
        b"data: kept\n"
        b": comment inside\n"
        b"\n"
    )
    assert decode(stream) == [ServerSentEvent(None, b"kept")]


def test_field_names_are_case_sensitive() -> None:
    assert decode(b"DATA: x\nEvent: y\n\n") == []


def test_comment_only_block_dispatches_nothing() -> None:
    assert decode(b": keep-alive\n\n: keep-alive\n\n") == []


def test_leading_space_makes_the_line_an_unknown_field() -> None:
    assert decode(b" data: x\n\n") == []


def test_consecutive_blank_lines_dispatch_nothing_extra() -> None:
    assert decode(b"\n\n\ndata: x\n\n\n\n") == [ServerSentEvent(None, b"x")]


def test_event_without_data_is_not_dispatched() -> None:
    assert decode(b"event: ping\n\n") == []


def test_byte_order_mark_at_stream_start_is_ignored() -> None:
    assert decode(BOM + b"data: x\n\n") == [ServerSentEvent(None, b"x")]


def test_byte_order_mark_split_across_feeds_is_ignored() -> None:
    assert feed_all([b"\xef", b"\xbb", b"\xbfdata: x\n\n"]) == [ServerSentEvent(None, b"x")]


def test_only_one_leading_byte_order_mark_is_ignored() -> None:
    # A second BOM makes the first line a field named "\ufeffdata", which is unknown.
    assert decode(BOM + BOM + b"data: x\n\ndata: y\n\n") == [ServerSentEvent(None, b"y")]


def test_byte_order_mark_later_in_the_stream_is_data() -> None:
    assert decode(b"data: a\n\ndata: " + BOM + b"\n\n") == [
        ServerSentEvent(None, b"a"),
        ServerSentEvent(None, BOM),
    ]


# --- dispatch timing, end of stream ------------------------------------------------------------


def test_event_is_dispatched_only_at_the_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert decoder.feed(b"data: b\n") == []
    assert decoder.feed(b"\n") == [ServerSentEvent(None, b"a\nb")]


def test_one_feed_can_complete_several_events() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: 1\n\ndata: 2\n\ndata: 3") == [
        ServerSentEvent(None, b"1"),
        ServerSentEvent(None, b"2"),
    ]
    assert decoder.feed(b"\n\n") == [ServerSentEvent(None, b"3")]


def test_event_cut_before_its_blank_line_is_never_dispatched() -> None:
    assert decode(b"data: complete\n\ndata: cut off\n") == [ServerSentEvent(None, b"complete")]
    assert decode(b"data: complete\n\ndata: cut off") == [ServerSentEvent(None, b"complete")]
    assert decode(b"data: complete\n\ndata: cut off\r") == [ServerSentEvent(None, b"complete")]


def test_blank_line_without_terminator_at_end_of_stream_is_not_a_blank_line() -> None:
    # "data: x\n" followed by end of stream: the final blank line never arrived.
    decoder = SSEDecoder()
    assert decoder.feed(b"data: x\n") == []
    assert decoder.finish() == []


def test_finish_after_a_complete_stream_returns_nothing_more() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: x\r\n\r\n") == [ServerSentEvent(None, b"x")]
    assert decoder.finish() == []


def test_has_partial_event_reports_buffered_unfinished_event() -> None:
    decoder = SSEDecoder()
    assert not decoder.has_partial_event
    decoder.feed(b"data: par")
    assert decoder.has_partial_event  # mid-line
    decoder.feed(b"tial\n")
    assert decoder.has_partial_event  # line complete, event not
    decoder.feed(b"\n")
    assert not decoder.has_partial_event
    decoder.feed(b"data: x\r")
    assert decoder.has_partial_event


def test_has_partial_event_is_false_between_events_and_after_crlf_cr() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: x\r\n\r")
    assert not decoder.has_partial_event


# --- property: splitting never changes the result ----------------------------------------------


@dataclass(frozen=True)
class Block:
    """One event block: lines to write and the event the WHATWG rules say it produces."""

    lines: tuple[str, ...]
    expected: ServerSentEvent | None


_line_text = st.text(st.characters(exclude_characters="\r\n", exclude_categories=["Cs"]), max_size=12)
_separator = st.sampled_from(["", " "])


@st.composite
def blocks(draw: st.DrawFn) -> Block:
    """Draw an event block and compute, independently of the decoder, what it must produce."""
    lines: list[str] = []
    data: list[str] = []
    name: str | None = None
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["data", "data", "event", "comment", "id", "retry"]))
        value = draw(_line_text)
        separator = draw(_separator)
        if kind == "comment":
            lines.append(":" + value)
            continue
        lines.append(f"{kind}:{separator}{value}")
        parsed = value if separator or not value.startswith(" ") else value[1:]
        if kind == "data":
            data.append(parsed)
        elif kind == "event":
            name = parsed or None
    expected = ServerSentEvent(name, "\n".join(data).encode()) if data else None
    return Block(tuple(lines), expected)


def serialise(stream: Sequence[Block], newline: str) -> tuple[bytes, list[int]]:
    """The stream's bytes and, for each event, the offset at which it becomes complete."""
    out = bytearray()
    completions: list[int] = []
    for block in stream:
        for line in block.lines:
            out += (line + newline).encode()
        # The blank line ends at its first terminator byte (a CRLF's LF cannot add anything).
        if block.expected is not None:
            completions.append(len(out) + 1)
        out += newline.encode()
    return bytes(out), completions


def split_at(stream: bytes, cuts: Sequence[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(stream)]
    return [stream[start:end] for start, end in itertools.pairwise(bounds)]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
@settings(max_examples=300, deadline=None)
@given(stream=st.lists(blocks(), max_size=6), data=st.data())
def test_any_split_yields_the_same_events_as_the_whole_stream(
    newline: str, stream: list[Block], data: st.DataObject
) -> None:
    raw, _ = serialise(stream, newline)
    expected = [block.expected for block in stream if block.expected is not None]
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=12), label="cuts")
    whole = decode(raw)
    assert whole == expected
    assert feed_all(split_at(raw, cuts)) == whole
    assert feed_all(one_byte_at_a_time(raw)) == whole
    assert list(iter_events(split_at(raw, cuts))) == whole


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
@settings(max_examples=200, deadline=None)
@given(stream=st.lists(blocks(), max_size=5), data=st.data())
def test_every_event_is_emitted_by_the_feed_that_completes_it(
    newline: str, stream: list[Block], data: st.DataObject
) -> None:
    raw, completions = serialise(stream, newline)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=12), label="cuts"))
    decoder = SSEDecoder()
    emitted = 0
    for piece, end in zip(split_at(raw, cuts), [*cuts, len(raw)], strict=True):
        emitted += len(decoder.feed(piece))
        assert emitted == sum(1 for offset in completions if offset <= end)
    assert decoder.finish() == []


@settings(max_examples=200, deadline=None)
@given(
    stream=st.lists(blocks(), max_size=5),
    newlines=st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=1),
    data=st.data(),
)
def test_mixed_line_endings_split_anywhere_give_the_expected_events(
    stream: list[Block], newlines: list[str], data: st.DataObject
) -> None:
    out = bytearray(BOM if data.draw(st.booleans(), label="bom") else b"")
    count = 0
    previous = ""
    for block in stream:
        for line in [*block.lines, ""]:
            newline = newlines[count % len(newlines)]
            if previous == "\r" and not line and newline == "\n":
                newline = "\r\n"  # CR + LF would be one line ending, swallowing the blank line
            out += (line + newline).encode()
            previous = newline
            count += 1
    raw = bytes(out)
    expected = [block.expected for block in stream if block.expected is not None]
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=12), label="cuts")
    assert feed_all(split_at(raw, cuts)) == expected


@settings(max_examples=200, deadline=None)
@given(stream=st.lists(blocks(), min_size=1, max_size=4), data=st.data())
def test_truncated_stream_yields_exactly_the_events_completed_before_the_cut(
    stream: list[Block], data: st.DataObject
) -> None:
    raw, completions = serialise(stream, "\r\n")
    cut = data.draw(st.integers(0, len(raw)), label="cut")
    expected = [block.expected for block in stream if block.expected is not None]
    complete = sum(1 for offset in completions if offset <= cut)
    assert decode(raw[:cut]) == expected[:complete]


# --- pieces that hold whole events (the providers' usual flush) ------------------------------------


def event_by_event(stream: Sequence[Block]) -> list[bytes]:
    """The stream's bytes with LF line ends, one piece per block (as providers flush them)."""
    return [("".join(line + "\n" for line in block.lines) + "\n").encode() for block in stream]


@settings(max_examples=300, deadline=None)
@given(stream=st.lists(blocks(), max_size=8))
def test_pieces_of_whole_events_give_the_events_of_the_whole_stream(stream: list[Block]) -> None:
    pieces = event_by_event(stream)
    expected = [block.expected for block in stream if block.expected is not None]
    assert feed_all(pieces) == expected
    assert list(iter_events(pieces)) == expected
    # The same pieces after a first piece that leaves half an event buffered.
    assert feed_all([b"data: a", b"bc\n", *pieces]) == feed_all([b"data: abc\n", *pieces])


def test_whole_event_pieces_with_and_without_names() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: 1\n\n") == [ServerSentEvent(None, b"1")]
    assert decoder.feed(b"event: delta\ndata: 2\n\n") == [ServerSentEvent("delta", b"2")]
    assert decoder.feed(b"event: \ndata: 3\n\n") == [ServerSentEvent(None, b"3")]
    assert decoder.feed(b"event: delta\n\n") == []  # a name without data dispatches nothing
    assert decoder.feed(b"data: \n\n") == [ServerSentEvent(None, b"")]
    assert decoder.feed("event: café\ndata: 4\n\n".encode()) == [ServerSentEvent("café", b"4")]
    assert decoder.feed(b"event: \xff\ndata: 5\n\n") == [ServerSentEvent("\ufffd", b"5")]


def test_whole_event_pieces_that_need_the_line_rules() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: 1\ndata: 2\n\n") == [ServerSentEvent(None, b"1\n2")]
    assert decoder.feed(b"event: a\ndata: 1\ndata: 2\n\n") == [ServerSentEvent("a", b"1\n2")]
    assert decoder.feed(b"data: 1\n\ndata: 2\n\n") == [
        ServerSentEvent(None, b"1"),
        ServerSentEvent(None, b"2"),
    ]
    assert decoder.feed(b"data: 1\r\n\r\n") == [ServerSentEvent(None, b"1")]
    assert decoder.feed(b"event: a\nid: 7\ndata: 1\n\n") == [ServerSentEvent("a", b"1")]
    assert decoder.feed(b": ping\n\n") == []
    assert decoder.feed(b"data: 1\n\n\n") == [ServerSentEvent(None, b"1")]


def test_a_whole_event_piece_completes_an_event_begun_before() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"event: a\n") == []
    assert decoder.feed(b"data: 1\n\n") == [ServerSentEvent("a", b"1")]
    assert decoder.feed(b"data: 1\n") == []
    assert decoder.feed(b"data: 2\n\n") == [ServerSentEvent(None, b"1\n2")]
    assert decoder.feed(b"data: 3\r") == []
    assert decoder.feed(b"\ndata: 4\n\n") == [ServerSentEvent(None, b"3\n4")]
    assert decoder.feed(b"data: 5\n\n") == [ServerSentEvent(None, b"5")]


def test_the_first_piece_still_skips_a_byte_order_mark() -> None:
    assert feed_all([BOM + b"data: 1\n\n", b"data: 2\n\n"]) == [
        ServerSentEvent(None, b"1"),
        ServerSentEvent(None, b"2"),
    ]
    assert feed_all([b"\xef\xbb", b"\xbfdata: 1\n\n"]) == [ServerSentEvent(None, b"1")]


def test_events_are_plain_tuples_equal_to_their_named_form() -> None:
    pieces = [b"event: a\ndata: 1\n\n", b"data: 2\n\n", b"da", b"ta: 3\n\n"]
    raw = list(iter_events(pieces))
    assert raw == [ServerSentEvent("a", b"1"), ServerSentEvent(None, b"2"), ServerSentEvent(None, b"3")]
    assert raw == [("a", b"1"), (None, b"2"), (None, b"3")]
    assert all(type(event) is tuple for event in raw)
    assert asyncio.run(_collect(_pieces(pieces))) == raw


# --- loads: json.loads for an event's data -------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b'{"a": [1, 2.5, null, true, "caf\xc3\xa9", {"b": "\\u00e9\\n"}]}',
        b"[]",
        b'"text"',
        b"42",
        b' {"a": 1} ',
        b'{"a": 1}\r\n',
        b"\xef\xbb\xbf" + b'{"a": 1}',
        '{"a": "\u00e9"}'.encode("utf-16"),
        b"NaN",
    ],
)
def test_loads_gives_what_json_loads_gives(data: bytes) -> None:
    assert repr(loads(data)) == repr(json.loads(data))  # repr: NaN is not equal to itself


@pytest.mark.parametrize("data", [b"", b"[DONE]", b'{"a": 1} x', b'{"a": 1}{"b": 2}', b"{'a': 1}", b"\xff"])
def test_loads_rejects_what_json_loads_rejects(data: bytes) -> None:
    with pytest.raises(ValueError) as expected:
        json.loads(data)
    with pytest.raises(type(expected.value)):
        loads(data)


# --- iter_events / aiter_events ------------------------------------------------------------------


def test_iter_events_decodes_pieces_of_a_stream() -> None:
    pieces = [b"event: a\r", b"\ndata: 1\r\n", b"\r", b"\ndata: 2\n", b"\n"]
    assert list(iter_events(pieces)) == [ServerSentEvent("a", b"1"), ServerSentEvent(None, b"2")]


def test_iter_events_yields_each_event_before_reading_further() -> None:
    read: list[bytes] = []

    def source() -> Iterator[bytes]:
        for piece in (b"data: 1\n\n", b"data: 2\n\n"):
            read.append(piece)
            yield piece
        raise AssertionError("read past the end")

    events = iter_events(source())
    assert next(events) == ServerSentEvent(None, b"1")
    assert read == [b"data: 1\n\n"]
    assert next(events) == ServerSentEvent(None, b"2")
    assert len(read) == 2


def test_iter_events_drops_an_event_cut_at_the_end() -> None:
    assert list(iter_events([b"data: 1\n\n", b"data: 2\n"])) == [ServerSentEvent(None, b"1")]


def test_iter_events_can_be_closed_early() -> None:
    events = iter_events([b"data: 1\n\n", b"data: 2\n\n"])
    assert next(events) == ServerSentEvent(None, b"1")
    events.close()
    with pytest.raises(StopIteration):
        next(events)


async def _pieces(pieces: Sequence[bytes], read: list[bytes] | None = None) -> AsyncIterator[bytes]:
    for piece in pieces:
        if read is not None:
            read.append(piece)
        await asyncio.sleep(0)
        yield piece


async def _collect(chunks: AsyncIterator[bytes]) -> list[RawEvent]:
    return [event async for event in aiter_events(chunks)]


def test_aiter_events_decodes_an_async_stream() -> None:
    pieces = [b"event: a\r", b"\ndata: 1\r\n", b"\r", b"\ndata: 2\n", b"\n", b"data: cut"]
    events = asyncio.run(_collect(_pieces(pieces)))
    assert events == [ServerSentEvent("a", b"1"), ServerSentEvent(None, b"2")]


def test_aiter_events_matches_iter_events_for_the_same_pieces() -> None:
    pieces = [b"da", b"ta: x\r", b"\r\nevent: e\rdata:y\r", b"\n\r", b"\n: c\n\ndata\n\n"]
    assert asyncio.run(_collect(_pieces(pieces))) == list(iter_events(pieces))


def test_aiter_events_yields_each_event_before_reading_further() -> None:
    read: list[bytes] = []

    async def first_event() -> tuple[RawEvent, list[bytes]]:
        events = aiter_events(_pieces([b"data: 1\n\n", b"data: 2\n\n"], read))
        event = await events.__anext__()
        snapshot = list(read)
        await events.aclose()
        return event, snapshot

    event, read_before = asyncio.run(first_event())
    assert event == ServerSentEvent(None, b"1")
    assert read_before == [b"data: 1\n\n"]


def test_aiter_events_of_an_empty_stream_yields_nothing() -> None:
    assert asyncio.run(_collect(_pieces([]))) == []
