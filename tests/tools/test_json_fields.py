"""`JSONFieldStream`: decoded string fields out of JSON text split anywhere, in one pass."""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mirastream.tools import _json_fields
from mirastream.tools._json_fields import FieldDelta, JSONFieldStream

FIELDS = ("code", "language")
SURROGATE = re.compile("[\ud800-\udfff]")


def run(pieces: Iterable[str], fields: Iterable[str] = FIELDS) -> tuple[JSONFieldStream, list[FieldDelta]]:
    stream = JSONFieldStream(tuple(fields))
    deltas: list[FieldDelta] = []
    for piece in pieces:
        deltas.extend(stream.feed(piece))
    deltas.extend(stream.finish())
    return stream, deltas


def text_of(deltas: list[FieldDelta], field: str) -> str:
    return "".join(delta.text for delta in deltas if delta.field == field)


def dones(deltas: list[FieldDelta], field: str) -> int:
    return sum(delta.done for delta in deltas if delta.field == field)


def split(text: str, cuts: Iterable[int]) -> list[str]:
    points = [0, *sorted({cut % (len(text) + 1) for cut in cuts}), len(text)]
    return [text[start:end] for start, end in itertools.pairwise(points)]


def truth(text: str, escaped: bool) -> dict[str, Any]:
    """What `json.loads` reads, with lone escaped surrogates as U+FFFD (raw ones stay as they are)."""
    data: dict[str, Any] = json.loads(text)
    if escaped:  # `json.loads` keeps lone surrogates; a pair has become one character already
        data = {key: SURROGATE.sub("\ufffd", v) if isinstance(v, str) else v for key, v in data.items()}
    return data


# --- the basic contract -------------------------------------------------------------------


def test_streams_the_decoded_fields_in_order() -> None:
    stream = JSONFieldStream(FIELDS)
    assert stream.feed('{"language": "pyt') == [FieldDelta("language", "pyt", False)]
    assert stream.value("language") == "pyt"
    assert stream.value("code") is None
    assert stream.feed('hon", "code": "print(\\"hi') == [
        FieldDelta("language", "hon", True),
        FieldDelta("code", 'print("hi', False),
    ]
    assert stream.complete("language")
    assert not stream.complete("code")
    assert stream.feed('\\")\\n"}') == [FieldDelta("code", '")\n', True)]
    assert stream.finish() == []
    assert stream.value("code") == 'print("hi")\n'
    assert stream.complete("code")
    assert not stream.malformed


def test_a_field_is_empty_not_none_once_its_string_opened() -> None:
    stream = JSONFieldStream(["code"])
    assert stream.feed('{"code": "') == []
    assert stream.value("code") == ""
    assert stream.feed('"}') == [FieldDelta("code", "", True)]
    assert stream.value("code") == ""


def test_only_top_level_keys_count() -> None:
    document = (
        '{"x": {"code": "no", "y": ["code", {"code": "no"}]}, "z": ["}", "]", "\\"code\\": \\"no"],'
        ' "w": "{\\"code\\": \\"no\\"}", "code": "yes"}'
    )
    stream, deltas = run([document])
    assert text_of(deltas, "code") == "yes" == json.loads(document)["code"]
    assert stream.value("language") is None
    assert not stream.malformed


def test_non_string_values_yield_nothing() -> None:
    document = '{"code": 12.5e3, "language": null, "other": {"code": "x"}}'
    for pieces in ([document], list(document)):
        stream, deltas = run(pieces)
        assert deltas == []
        assert stream.value("code") is None
        assert not stream.complete("code")
        assert not stream.malformed
    _, deltas = run(['{"code": {"a": "b"}, "language": [1, "x"], "n": true}'])
    assert deltas == []


def test_keys_are_decoded_before_matching() -> None:
    for pieces in (['{"co\\u0064e": "x"}'], list('{"co\\u0064e": "x"}')):
        _, deltas = run(pieces)
        assert text_of(deltas, "code") == "x"
    _, deltas = run(['{"code2": "x", "cod": "y"}'])
    assert deltas == []


def test_whitespace_and_any_field_order() -> None:
    document = json.dumps({"code": "a\nb", "language": "sh", "extra": [1, {"k": None}]}, indent=4)
    _, deltas = run([" \n\t\r ", document, "\n  "])
    assert text_of(deltas, "code") == "a\nb"
    assert text_of(deltas, "language") == "sh"
    assert [delta.field for delta in deltas if delta.done] == ["code", "language"]


def test_raw_control_characters_inside_strings_pass_through() -> None:
    _, deltas = run(['{"code": "a\nb\tc"}'])
    assert text_of(deltas, "code") == "a\nb\tc"


def test_a_later_duplicate_overrides_like_json_loads() -> None:
    document = '{"code": "first", "language": "x", "code": "second"}'
    stream, deltas = run(list(document))
    assert stream.value("code") == json.loads(document)["code"] == "second"
    assert dones(deltas, "code") == 2
    # The second run of deltas starts again from the first character of the new value.
    first_done = next(i for i, delta in enumerate(deltas) if delta.field == "code" and delta.done)
    assert text_of(deltas[first_done + 1 :], "code") == "second"

    stream, _ = run(['{"code": "text", "code": 1}'])
    assert stream.value("code") is None
    assert not stream.complete("code")


# --- escapes --------------------------------------------------------------------------------

ESCAPES = [
    ('\\"', '"'),
    ("\\\\", "\\"),
    ("\\/", "/"),
    ("\\b", "\b"),
    ("\\f", "\f"),
    ("\\n", "\n"),
    ("\\r", "\r"),
    ("\\t", "\t"),
    ("\\u00e9", "é"),
    ("\\u00E9", "é"),
    ("\\u0000", "\x00"),
    ("\\u2028", "\u2028"),
    ("\\ud83d\\ude00", "😀"),
    ("\\uD83D\\uDE00", "😀"),
]


@pytest.mark.parametrize(("escape", "char"), ESCAPES)
def test_an_escape_split_anywhere_is_held_back_whole(escape: str, char: str) -> None:
    for cut in range(1, len(escape)):
        stream = JSONFieldStream(["code"])
        assert stream.feed('{"code": "x' + escape[:cut]) == [FieldDelta("code", "x", False)]
        assert stream.value("code") == "x"
        assert stream.feed(escape[cut:] + 'y"}') == [FieldDelta("code", char + "y", True)]
        assert stream.value("code") == "x" + char + "y"


@pytest.mark.parametrize(("escape", "char"), ESCAPES)
def test_an_escape_fed_one_character_at_a_time(escape: str, char: str) -> None:
    stream = JSONFieldStream(["code"])
    stream.feed('{"code": "')
    emitted = [stream.feed(c) for c in escape]
    assert emitted[:-1] == [[]] * (len(escape) - 1)
    assert emitted[-1] == [FieldDelta("code", char, False)]
    assert stream.feed('"') == [FieldDelta("code", "", True)]


def test_every_split_of_a_string_full_of_escapes() -> None:
    value = 'a"b\\c/d\be\ff\ng\rh\ti\x01é😀\u2028z'
    document = json.dumps({"language": "x\\y", "code": value}, ensure_ascii=True).replace("/", "\\/")
    for i in range(len(document) + 1):
        for j in range(i, len(document) + 1, 3):
            stream, deltas = run([document[:i], document[i:j], document[j:]])
            assert text_of(deltas, "code") == value
            assert text_of(deltas, "language") == "x\\y"
            assert dones(deltas, "code") == dones(deltas, "language") == 1
            assert not stream.malformed


LONE_SURROGATES = [
    ('"\\ud83d"', "\ufffd"),
    ('"\\ude00"', "\ufffd"),
    ('"\\ude00\\ud83d"', "\ufffd\ufffd"),
    ('"\\ud83dA"', "\ufffdA"),
    ('"\\ud83d\\n"', "\ufffd\n"),
    ('"\\ud83d\\u0041"', "\ufffdA"),
    ('"\\ud83d\\ud83d\\ude00"', "\ufffd😀"),
    ('"\\ud83d\\ud83d"', "\ufffd\ufffd"),
]


@pytest.mark.parametrize(("literal", "decoded"), LONE_SURROGATES)
def test_lone_surrogates_become_replacement_characters(literal: str, decoded: str) -> None:
    document = '{"code": ' + literal + "}"
    for i in range(len(document) + 1):
        for j in range(i, len(document) + 1):
            stream, deltas = run([document[:i], document[i:j], document[j:]], ["code"])
            assert text_of(deltas, "code") == decoded
            assert dones(deltas, "code") == 1
            assert not stream.malformed


# --- the property -------------------------------------------------------------------------

TRICKY = st.sampled_from(['"', "\\", "\n", "\r", "\t", "\x00", "\x1f", "\x7f", "/", "😀", "𝄞", "\u2028", "é"])
TEXT = st.text(st.one_of(st.characters(), TRICKY), max_size=40)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.one_of(st.just("code"), st.just("language"), TEXT), children, max_size=3)
    ),
    max_leaves=8,
)
# For each wanted field: absent, a string, or some other JSON value.
FIELD_VALUES = st.one_of(
    st.none(), st.tuples(st.just("string"), TEXT), st.tuples(st.just("other"), JSON_VALUES)
)


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, bool]:
    items = list(
        draw(st.dictionaries(TEXT.filter(lambda key: key not in FIELDS), JSON_VALUES, max_size=4)).items()
    )
    for field in FIELDS:
        choice = draw(FIELD_VALUES)
        if choice is not None:
            items.append((field, choice[1]))
    escaped = draw(st.booleans())
    text = json.dumps(
        dict(draw(st.permutations(items))),
        ensure_ascii=escaped,
        indent=draw(st.sampled_from([None, 0, 2])),
        separators=draw(st.sampled_from([None, (",", ":")])),
    )
    return draw(st.sampled_from(["", " ", "\n\t "])) + text, escaped


@settings(max_examples=300, deadline=None)
@given(documents(), st.lists(st.integers(min_value=0), max_size=30))
def test_any_document_split_anywhere(document: tuple[str, bool], cuts: list[int]) -> None:
    text, escaped = document
    stream, deltas = run(split(text, cuts))
    assert not stream.malformed
    data = truth(text, escaped)
    for field in FIELDS:
        value = data.get(field)
        if isinstance(value, str):
            assert text_of(deltas, field) == value
            assert dones(deltas, field) == 1
            assert [delta.done for delta in deltas if delta.field == field][-1]
            assert stream.value(field) == value
            assert stream.complete(field)
        else:
            assert text_of(deltas, field) == ""
            assert dones(deltas, field) == 0
            assert stream.value(field) is None
            assert not stream.complete(field)
    assert all(delta.text or delta.done for delta in deltas)


@settings(max_examples=100, deadline=None)
@given(st.text(st.one_of(st.characters(), TRICKY), max_size=200))
def test_one_character_pieces(value: str) -> None:
    text = json.dumps({"code": value}, ensure_ascii=True)
    _, deltas = run(list(text), ["code"])
    assert text_of(deltas, "code") == truth(text, escaped=True)["code"]
    assert dones(deltas, "code") == 1
    # The closing quote came alone, and no character is ever sent twice; but a lone high
    # surrogate's U+FFFD can only follow once the next character shows no low surrogate comes.
    assert deltas[-1] in (FieldDelta("code", "", True), FieldDelta("code", "\ufffd", True))
    assert all(len(delta.text.removeprefix("\ufffd")) <= 1 for delta in deltas)


# --- malformed and truncated text -----------------------------------------------------------


@pytest.mark.parametrize(
    "document",
    [
        "[1, 2]",
        '"code"',
        'x{"code": "a"}',
        '{"code" "a"}',
        '{"code": "a" "b"}',
        '{"code": , "a"}',
        "{,}",
        '{"a": 1,, "code": "x"}',
        '{"a": 1]',
        '{"code": "a\\x"}',
        '{"code": "\\u12G4"}',
        '{"code": "\\u+123"}',
    ],
)
def test_malformed_text_stops_extraction_without_raising(document: str) -> None:
    for pieces in ([document], list(document)):
        stream = JSONFieldStream(["code"])
        for piece in pieces:
            stream.feed(piece)
        assert stream.malformed
        assert stream.feed(', "code": "late"}') == []
        assert stream.finish() == []
        assert stream.malformed
        assert stream.value("code") in (None, "", "a")


def test_text_decoded_before_a_bad_escape_is_kept() -> None:
    stream = JSONFieldStream(["code"])
    assert stream.feed('{"code": "abc\\q def"}') == [FieldDelta("code", "abc", False)]
    assert stream.malformed
    assert stream.value("code") == "abc"
    assert not stream.complete("code")


def test_garbage_after_the_object_is_malformed_but_keeps_the_values() -> None:
    stream, deltas = run(['{"code": "a"} {"code": "b"}'])
    assert stream.malformed
    assert text_of(deltas, "code") == "a"
    assert stream.complete("code")


@pytest.mark.parametrize("document", ['{"code": "ab', '{"code": "ab"', '{"a": {"b": 1', '{"a": 1', "{"])
def test_truncated_text_is_malformed_at_finish(document: str) -> None:
    stream = JSONFieldStream(["code"])
    stream.feed(document)
    assert not stream.malformed
    assert stream.finish() == []
    assert stream.malformed


def test_finish_turns_a_held_high_surrogate_into_a_replacement_character() -> None:
    stream = JSONFieldStream(["code"])
    assert stream.feed('{"code": "a\\ud83d') == [FieldDelta("code", "a", False)]
    assert stream.finish() == [FieldDelta("code", "\ufffd", False)]
    assert stream.value("code") == "a\ufffd"
    assert stream.malformed


@pytest.mark.parametrize("document", ["", "   ", "\n\t"])
def test_empty_arguments_are_not_malformed(document: str) -> None:
    stream, deltas = run([document])
    assert deltas == []
    assert not stream.malformed


def test_finish_is_idempotent_and_feed_after_it_raises() -> None:
    stream = JSONFieldStream(["code"])
    stream.feed('{"code": "a"}')
    assert stream.finish() == []
    assert stream.finish() == []
    with pytest.raises(RuntimeError, match="after finish"):
        stream.feed("x")


# --- one pass, linear time ------------------------------------------------------------------

CODE_LINE = "print(\"x\\ty\", '\\u00e9')  # é 😀\n"


def big_document(size: int) -> tuple[str, str]:
    code = (CODE_LINE * (size // len(CODE_LINE) + 1))[:size]
    return code, json.dumps({"language": "python", "meta": {"code": "no"}, "code": code})


class CountingPattern:
    """A compiled pattern that counts the characters its searches and matches pass over."""

    def __init__(self, pattern: re.Pattern[str], counter: list[int]) -> None:
        self.pattern = pattern
        self.counter = counter

    def search(self, text: str, pos: int = 0) -> re.Match[str] | None:
        match = self.pattern.search(text, pos)
        self.counter[0] += (match.end() if match else len(text)) - pos
        return match

    def match(self, text: str, pos: int = 0, endpos: int = 2**63) -> re.Match[str] | None:
        match = self.pattern.match(text, pos, endpos)
        self.counter[0] += min(endpos, len(text)) - pos
        return match


@pytest.mark.parametrize("piece_size", [1, 2, 3, 7, 64, 10_000])
def test_each_character_is_scanned_a_bounded_number_of_times(
    monkeypatch: pytest.MonkeyPatch, piece_size: int
) -> None:
    counter = [0]
    for name in ("_STRING_SPECIAL", "_NESTED_SPECIAL", "_SCALAR_END", "_NON_WHITESPACE", "_HEX4"):
        monkeypatch.setattr(_json_fields, name, CountingPattern(getattr(_json_fields, name), counter))
    escaped = json.dumps({"language": "python", "meta": [{"code": "no\\"}], "code": '\\"\n' * 2000})
    for document in (big_document(20_000)[1], escaped):
        counter[0] = 0
        _, deltas = run(split(document, range(piece_size, len(document), piece_size)))
        assert text_of(deltas, "code") == json.loads(document)["code"]
        # Every character is passed over at most twice by the scanners (a re-parse per
        # piece would pass over the whole prefix again each time).
        assert counter[0] <= 2 * len(document)


def test_time_grows_linearly_with_one_character_pieces() -> None:
    def seconds(size: int) -> float:
        code, document = big_document(size)
        start = time.process_time()
        stream = JSONFieldStream(FIELDS)
        for char in document:
            stream.feed(char)
        stream.finish()
        elapsed = time.process_time() - start
        assert stream.value("code") == code
        return elapsed

    small = min(seconds(100_000) for _ in range(3))
    large = seconds(1_000_000)
    # Linear: about 10x. Re-parsing the buffer per piece would be about 100x.
    assert large / small < 40, (small, large)  # linear is ~10x; re-parsing per piece is ~100x
