"""Incremental extraction of top-level string fields from streamed JSON arguments.

A model writes a tool call's arguments as JSON text that arrives in arbitrary pieces.
`JSONFieldStream` decodes chosen top-level string fields (such as `code`) while the pieces
arrive, in a single pass: each input character is examined a bounded number of times, only
an unfinished escape (at most 11 characters) is ever held back, and the accumulated
arguments are never re-parsed.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

__all__ = ["FieldDelta", "JSONFieldStream"]

_NON_WHITESPACE = re.compile(r"[^ \t\n\r]")
_STRING_SPECIAL = re.compile(r'["\\]')
_NESTED_SPECIAL = re.compile(r'["{}\[\]]')
_SCALAR_END = re.compile(r"[,}\] \t\n\r]")
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_REPLACEMENT = "\ufffd"

# Scanner states.
_ROOT = 0  # before the opening `{`
_OPEN = 1  # after `{`: a key or `}`
_NEXT_KEY = 2  # after `,`: a key
_KEY = 3  # inside a key
_COLON = 4  # after a key
_VALUE = 5  # after `:`
_TARGET = 6  # inside the string value of a wanted field
_SKIP = 7  # inside a value we skip: a nested object or array, or a string we do not want
_SCALAR = 8  # inside a number, `true`, `false` or `null`
_AFTER_VALUE = 9  # after a value: `,` or `}`
_END = 10  # after the closing `}`
_MALFORMED = 11  # not JSON: extraction stopped


class _Malformed(Exception):
    """The text is not JSON."""


@dataclass(frozen=True, slots=True)
class FieldDelta:
    """Decoded text newly available for one field.

    Attributes:
        field: the name of the field.
        text: the decoded characters that follow what earlier deltas of this field carried.
        done: `True` on the delta that closes the field (its `text` may be empty).
    """

    field: str
    text: str
    done: bool


def _hex4(text: str, start: int) -> int:
    if _HEX4.match(text, start, start + 4) is None:
        raise _Malformed
    return int(text[start : start + 4], 16)


def _escape(text: str, i: int) -> tuple[str, int] | None:
    """Decode the escape at `text[i] == "\\"`: the character and where the escape ends.

    `None` when `text` ends before the escape is complete. A high surrogate is complete only
    once it is known whether a low surrogate escape follows it.
    """
    n = len(text)
    if i + 1 >= n:
        return None
    kind = text[i + 1]
    if kind != "u":
        try:
            return _SIMPLE_ESCAPES[kind], i + 2
        except KeyError:
            raise _Malformed from None
    if i + 6 > n:
        return None
    code = _hex4(text, i + 2)
    if 0xDC00 <= code <= 0xDFFF:
        return _REPLACEMENT, i + 6
    if not 0xD800 <= code <= 0xDBFF:
        return chr(code), i + 6
    j = i + 6  # a high surrogate: pair it with a following `\uDC00`-`\uDFFF`
    if (j < n and text[j] != "\\") or (j + 1 < n and text[j + 1] != "u"):
        return _REPLACEMENT, j
    if j + 6 > n:
        return None
    low = _hex4(text, j + 2)
    if 0xDC00 <= low <= 0xDFFF:
        return chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)), j + 6
    return _REPLACEMENT, j


class _StringDecoder:
    """Decodes the inside of one JSON string, piece by piece."""

    __slots__ = ("pending",)

    def __init__(self) -> None:
        self.pending = ""  # the start of an escape whose end has not arrived yet

    def feed(self, text: str, pos: int, out: list[str]) -> tuple[int, bool]:
        """Decode `text[pos:]` into `out`; return where decoding stopped and whether the string closed."""
        n = len(text)
        while self.pending:
            if pos >= n:
                return pos, False
            held = len(self.pending)
            # An escape is at most 12 characters long, so this bounded window completes it
            # unless the whole rest of `text` is inside it.
            window = self.pending + text[pos : pos + 12]
            decoded = _escape(window, 0)
            if decoded is None:
                self.pending = window
                return n, False
            char, end = decoded
            out.append(char)
            if end >= held:
                pos += end - held
                self.pending = ""
            else:  # a lone high surrogate, followed by another escape already held
                self.pending = self.pending[end:]
        while pos < n:
            match = _STRING_SPECIAL.search(text, pos)
            if match is None:
                out.append(text[pos:])
                return n, False
            i = match.start()
            if i > pos:
                out.append(text[pos:i])
            if text[i] == '"':
                return i + 1, True
            decoded = _escape(text, i)
            if decoded is None:
                self.pending = text[i:]
                return n, False
            out.append(decoded[0])
            pos = decoded[1]
        return pos, False

    def flush(self) -> str:
        """At the end of the input: a held, complete high surrogate becomes U+FFFD."""
        return _REPLACEMENT if len(self.pending) >= 6 else ""


class JSONFieldStream:
    """Streams the decoded values of chosen top-level string fields out of JSON text.

    Feed the arguments of a tool call as they arrive; each `feed` returns the decoded text
    that became available, per field, in input order:

    ```python
    stream = JSONFieldStream({"language", "code"})
    for piece in pieces:
        for delta in stream.feed(piece):
            show(delta.field, delta.text)
    stream.finish()
    ```

    Rules:

    - Only keys of the top-level object count; values nested in objects or arrays are
      skipped, whatever their keys. A wanted field whose value is not a string yields nothing.
    - All JSON escapes are decoded; an escaped surrogate pair becomes one character and a
      lone escaped surrogate becomes U+FFFD. Only an unfinished escape is held back.
    - A duplicate key overrides the earlier occurrence, as `json.loads` does: `value` and
      `complete` describe the last occurrence, whose deltas start again from its first
      character. So a delta for a field that was already done means its value restarted.
    - Malformed JSON never raises: extraction stops and `malformed` becomes `True`. Raw
      control characters inside strings are accepted (as `json.loads(strict=False)` does)
      and numbers and literals are skipped without being validated.

    Each character is examined a bounded number of times, so a whole stream costs time
    linear in its length, however it is split.
    """

    def __init__(self, fields: Collection[str]) -> None:
        self._fields = frozenset(fields)
        self._state = _ROOT
        self._values: dict[str, list[str]] = {}
        self._complete: set[str] = set()
        self._decoder = _StringDecoder()
        self._key_parts: list[str] = []
        self._key = ""
        self._depth = 0  # open objects and arrays while skipping a value
        self._in_string = False  # while skipping: inside a string
        self._escaped = False  # while skipping a string: after a backslash
        self._finished = False
        self._truncated = False

    @property
    def malformed(self) -> bool:
        """Whether the text broke JSON syntax, or `finish` came before the object was closed."""
        return self._state == _MALFORMED or self._truncated

    def value(self, field: str) -> str | None:
        """The decoded value of `field` so far; `None` if it has not appeared as a string.

        This joins the deltas seen so far (linear in the value's length): follow the deltas
        rather than calling it after each piece.
        """
        parts = self._values.get(field)
        if parts is None:
            return None
        if len(parts) > 1:
            parts[:] = ["".join(parts)]
        return parts[0] if parts else ""

    def complete(self, field: str) -> bool:
        """Whether the closing quote of `field`'s string value has been seen."""
        return field in self._complete

    def feed(self, piece: str) -> list[FieldDelta]:
        """Consume the next piece of the JSON text; return the decoded text it made available.

        At most one delta per field comes back for a piece (a repeated key aside), in the
        order the fields appear.

        Raises:
            RuntimeError: if called after `finish`.
        """
        if self._finished:
            raise RuntimeError("JSONFieldStream.feed() called after finish()")
        if (
            self._state == _TARGET
            and not self._decoder.pending
            and '"' not in piece
            and "\\" not in piece
            and piece
        ):  # the common case inside a long value: the piece is its own decoded text
            self._values[self._key].append(piece)
            return [FieldDelta(self._key, piece, False)]
        deltas: list[FieldDelta] = []
        if self._state != _MALFORMED and piece:
            try:
                self._scan(piece, deltas)
            except _Malformed:
                self._state = _MALFORMED
        return deltas

    def finish(self) -> list[FieldDelta]:
        """Mark the end of the text; calling it again does nothing.

        Normally there is nothing left to flush. If the text stopped inside a wanted string
        right after an escaped high surrogate, that surrogate comes back as U+FFFD (without
        `done`). Text that stopped before its closing `}` makes `malformed` true; empty or
        all-whitespace text (what some models send for "no arguments") does not.
        """
        if self._finished:
            return []
        self._finished = True
        deltas: list[FieldDelta] = []
        if self._state == _TARGET:
            self._emit(deltas, [self._decoder.flush()], done=False)
        if self._state not in (_ROOT, _END, _MALFORMED):
            self._truncated = True
        return deltas

    def _emit(self, deltas: list[FieldDelta], out: list[str], done: bool) -> None:
        text = "".join(out)
        if text or done:
            self._values[self._key].append(text)
            deltas.append(FieldDelta(self._key, text, done))

    def _scan(self, text: str, deltas: list[FieldDelta]) -> None:
        pos, n = 0, len(text)
        state = self._state
        try:
            while pos < n:
                if state == _TARGET:
                    out: list[str] = []
                    closed = False
                    try:
                        pos, closed = self._decoder.feed(text, pos, out)
                    finally:  # keep what was decoded before an invalid escape
                        self._emit(deltas, out, closed)
                    if closed:
                        self._complete.add(self._key)
                        state = _AFTER_VALUE
                elif state == _SKIP:
                    pos = self._skip(text, pos)
                    if self._depth == 0 and not self._in_string:
                        state = _AFTER_VALUE
                elif state == _KEY:
                    pos, closed = self._decoder.feed(text, pos, self._key_parts)
                    if closed:
                        self._key = "".join(self._key_parts)
                        state = _COLON
                elif state == _SCALAR:
                    match = _SCALAR_END.search(text, pos)
                    if match is None:
                        pos = n
                    else:
                        pos = match.start()
                        state = _AFTER_VALUE
                else:
                    match = _NON_WHITESPACE.search(text, pos)
                    if match is None:
                        pos = n
                    else:
                        state = self._structural(state, match.group())
                        pos = match.end()
        finally:
            self._state = state

    def _structural(self, state: int, char: str) -> int:
        """The state after the structural character `char`, read in `state`."""
        if state == _VALUE:
            wanted = self._key in self._fields
            if char == '"' and wanted:
                self._values[self._key] = []
                self._complete.discard(self._key)
                self._decoder.pending = ""
                return _TARGET
            if char in ",:}]":
                raise _Malformed
            if wanted:  # a later non-string value overrides an earlier string
                self._values.pop(self._key, None)
                self._complete.discard(self._key)
            self._escaped = False
            if char == '"':
                self._depth, self._in_string = 0, True
                return _SKIP
            if char in "{[":
                self._depth, self._in_string = 1, False
                return _SKIP
            return _SCALAR
        if char == '"' and state in (_OPEN, _NEXT_KEY):
            self._key_parts = []
            self._decoder.pending = ""
            return _KEY
        if char == "{" and state == _ROOT:
            return _OPEN
        if char == ":" and state == _COLON:
            return _VALUE
        if char == "}" and state in (_OPEN, _AFTER_VALUE):
            return _END
        if char == "," and state == _AFTER_VALUE:
            return _NEXT_KEY
        raise _Malformed

    def _skip(self, text: str, pos: int) -> int:
        """Skip through a nested value or unwanted string; return where the value ended or `len(text)`."""
        n = len(text)
        while pos < n:
            if self._in_string:
                if self._escaped:
                    self._escaped = False
                    pos += 1
                    continue
                match = _STRING_SPECIAL.search(text, pos)
                if match is None:
                    return n
                pos = match.end()
                if text[match.start()] == "\\":
                    self._escaped = True
                else:
                    self._in_string = False
                    if self._depth == 0:
                        return pos
            else:
                match = _NESTED_SPECIAL.search(text, pos)
                if match is None:
                    return n
                pos = match.end()
                char = text[match.start()]
                if char == '"':
                    self._in_string = True
                elif char in "{[":
                    self._depth += 1
                else:
                    self._depth -= 1
                    if self._depth == 0:
                        return pos
        return pos
