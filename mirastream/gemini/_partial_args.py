"""Function-call arguments that Vertex AI streams in pieces, put back together.

With `stream_function_call_arguments` (Vertex AI), one function call arrives over many parts:

- a first part `{"functionCall": {"name": "get_weather", "willContinue": true}}` (with the
  part's `thoughtSignature`);
- parts `{"functionCall": {"partialArgs": [...], "willContinue": true}}`, each partial
  argument naming a leaf of the arguments by its JSON path (`"$.location"`,
  `"$.recipe.steps[0]"`) with a `stringValue`, `numberValue`, `boolValue` or `nullValue`;
  a string arrives in pieces for the same path, each with `"willContinue": true` but the
  last;
- the call ends with a part whose `functionCall` does not continue: an empty one (`{}`), or
  the last partial arguments without `willContinue`.

`ArgumentsWriter` turns those leaves, as they arrive, into pieces of the call's JSON
arguments text, so the call streams like OpenAI's and Anthropic's, and builds the same
arguments as an object. Leaves arrive in document order; should they ever not, the text
written so far cannot express them, and the call's arguments are the object written out whole
at the end.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .._payload import Fields, to_json
from ..errors import MalformedStreamError

__all__ = ["ArgumentsWriter", "parse_path"]

_PROVIDER = "gemini"
_FIELDS = Fields(_PROVIDER)

Segment = str | int
"""One step of a JSON path: an object member's name, or an array index."""

_SEGMENT = re.compile(
    r"""\.(?P<name>[^.\[\]]+)"""  # .name
    r"""|\[(?P<index>\d+)\]"""  # [0]
    r"""|\[\s*'(?P<single>(?:[^'\\]|\\.)*)'\s*\]"""  # ['name']
    r"""|\[\s*"(?P<double>(?:[^"\\]|\\.)*)"\s*\]"""  # ["name"]
)


def parse_path(path: str) -> tuple[Segment, ...]:
    """The segments of a JSON path such as `$.recipe.ingredients[0]['name']`.

    Raises:
        MalformedStreamError: the path is not of that form, or names the arguments themselves.
    """
    if not path.startswith("$"):
        raise _bad_path(path)
    segments: list[Segment] = []
    position = 1
    while position < len(path):
        match = _SEGMENT.match(path, position)
        if match is None:
            raise _bad_path(path)
        if match["name"] is not None:
            segments.append(match["name"])
        elif match["index"] is not None:
            segments.append(int(match["index"]))
        else:
            quoted = match["single"] if match["single"] is not None else match["double"]
            segments.append(re.sub(r"\\(.)", r"\1", quoted))
        position = match.end()
    if not segments or not isinstance(segments[0], str):
        raise _bad_path(path)
    return tuple(segments)


def _bad_path(path: str) -> MalformedStreamError:
    return MalformedStreamError(
        f"gemini sent a partial function-call argument with a JSON path mirastream cannot read: {path!r}",
        provider=_PROVIDER,
    )


class _Container:
    """An object or array that is open in the arguments text."""

    __slots__ = ("is_array", "path", "written")

    def __init__(self, path: tuple[Segment, ...], is_array: bool) -> None:
        self.path = path
        self.is_array = is_array
        self.written = False  # a member was written: the next one needs a comma


class ArgumentsWriter:
    """Writes a streamed call's arguments as JSON text, piece by piece, and as an object.

    `begin()` gives the opening piece, `apply()` the piece for each partial argument,
    `end()` the closing piece. `value` is the arguments object so far; `text()` writes it
    out whole, for a call whose pieces came out of document order.
    """

    __slots__ = ("_open", "_open_string", "value")

    def __init__(self) -> None:
        self.value: dict[str, Any] = {}
        self._open: list[_Container] = []  # outermost first; empty until `begin()`
        self._open_string: tuple[Segment, ...] | None = None  # a string whose closing quote is due

    def begin(self) -> str:
        """The first piece: the arguments object opens."""
        if self._open:
            return ""
        self._open.append(_Container((), is_array=False))
        return "{"

    def apply(self, partial: Any) -> str:
        """The text for one partial argument (a `PartialArg` JSON object)."""
        fields = _FIELDS.object(partial, "functionCall.partialArgs[]")
        path = parse_path(_FIELDS.text(fields.get("jsonPath"), "functionCall.partialArgs[].jsonPath"))
        continues = fields.get("willContinue") is True
        opening = self.begin()
        if "stringValue" in fields:
            text = _FIELDS.text(fields["stringValue"], "functionCall.partialArgs[].stringValue")
            if self._open_string == path:  # the next piece of the string being written
                self._set(path, self._string_at(path) + text)
                closing = "" if continues else self._close_string()
                return opening + _escaped(text) + closing
            self._set(path, text)
            start = self._close_string() + self._enter(path) + '"' + _escaped(text)
            if continues:
                self._open_string = path
                return opening + start
            return opening + start + '"'
        value = self._scalar(fields)
        if value is _NOTHING:  # no value: at most the end of the string being written there
            if self._open_string == path and not continues:
                return opening + self._close_string()
            return opening
        self._set(path, value)
        return opening + self._close_string() + self._enter(path) + to_json(value, _PROVIDER)

    def merge(self, args: dict[str, Any]) -> str:
        """The text for whole top-level arguments that came with a streamed call (`args`)."""
        pieces = [self.begin()]
        for name, value in args.items():
            self._set((name,), value)
            pieces.append(self._close_string() + self._enter((name,)) + to_json(value, _PROVIDER))
        return "".join(pieces)

    def end(self) -> str:
        """The last piece: whatever is open closes."""
        pieces = [self.begin(), self._close_string()]
        while self._open:
            pieces.append("]" if self._open.pop().is_array else "}")
        return "".join(pieces)

    def text(self) -> str:
        """The whole arguments, written out from the object."""
        return to_json(self.value, _PROVIDER)

    # The text

    def _close_string(self) -> str:
        if self._open_string is None:
            return ""
        self._open_string = None
        return '"'

    def _enter(self, path: tuple[Segment, ...]) -> str:
        """Close the containers `path` is not in, open those it is in, and start its member."""
        pieces: list[str] = []
        parent = path[:-1]
        while (
            len(self._open[-1].path) > len(parent)
            or parent[: len(self._open[-1].path)] != self._open[-1].path
        ):
            pieces.append("]" if self._open.pop().is_array else "}")
        for depth in range(len(self._open[-1].path), len(parent)):
            pieces.append(self._member(parent[depth]))
            is_array = isinstance(path[depth + 1], int)
            pieces.append("[" if is_array else "{")
            self._open.append(_Container(parent[: depth + 1], is_array))
        pieces.append(self._member(path[-1]))
        return "".join(pieces)

    def _member(self, key: Segment) -> str:
        """The comma and the key before the next member of the innermost open container."""
        container = self._open[-1]
        comma = "," if container.written else ""
        container.written = True
        if container.is_array:
            return comma
        return comma + json.dumps(str(key), ensure_ascii=False) + ":"

    # The object

    def _string_at(self, path: tuple[Segment, ...]) -> str:
        node: Any = self.value
        for segment in path:
            node = _child(node, segment)
        return node if isinstance(node, str) else ""

    def _set(self, path: tuple[Segment, ...], value: Any) -> None:
        node: Any = self.value
        for depth, segment in enumerate(path[:-1]):
            wants_array = isinstance(path[depth + 1], int)
            child = _child(node, segment)
            if child is None:
                child = [] if wants_array else {}
                _assign(node, segment, child, path)
            elif not isinstance(child, list if wants_array else dict):
                raise _conflict(path)
            node = child
        _assign(node, path[-1], value, path)

    @staticmethod
    def _scalar(fields: dict[str, Any]) -> Any:
        if "numberValue" in fields:
            number = fields["numberValue"]
            if isinstance(number, bool) or not isinstance(number, (int, float)):
                raise _FIELDS.error("functionCall.partialArgs[].numberValue", number)
            return number
        if "boolValue" in fields:
            flag = fields["boolValue"]
            if not isinstance(flag, bool):
                raise _FIELDS.error("functionCall.partialArgs[].boolValue", flag)
            return flag
        if "nullValue" in fields:
            return None
        return _NOTHING


_NOTHING = object()


def _escaped(text: str) -> str:
    """`text` as the inside of a JSON string."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _child(node: Any, segment: Segment) -> Any:
    if isinstance(segment, int):
        return node[segment] if isinstance(node, list) and segment < len(node) else None
    return node.get(segment) if isinstance(node, dict) else None


_LARGEST_INDEX = 100_000  # an index past this is not a streamed argument but a broken one


def _assign(node: Any, segment: Segment, value: Any, path: tuple[Segment, ...]) -> None:
    if isinstance(segment, int):
        if not isinstance(node, list) or segment > _LARGEST_INDEX:
            raise _conflict(path)
        while len(node) < segment:
            node.append(None)  # an index that skips some: the skipped ones stay null
        if segment < len(node):
            node[segment] = value
        else:
            node.append(value)
        return
    if not isinstance(node, dict):
        raise _conflict(path)
    node[segment] = value


def _conflict(path: tuple[Segment, ...]) -> MalformedStreamError:
    return MalformedStreamError(
        f"gemini sent partial function-call arguments that contradict each other at {path!r}",
        provider=_PROVIDER,
    )
