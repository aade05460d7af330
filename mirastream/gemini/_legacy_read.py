"""Reading a legacy stream: the raw JSON array when mirastream's own client sent the request.

The REST transport of `google-generativeai` parses each element of the streamed JSON
array into a `GenerateContentResponse` proto with `ignore_unknown_fields=True`. Whatever
that proto (`google-ai-generativelanguage` 0.6.15) has no field for is gone afterwards: a
part's `thought` flag and `thoughtSignature`, `thoughtsTokenCount`, `responseId`, and an
`{"error": ...}` element, which becomes an empty response. With the default clients
mirastream therefore reads the elements from the HTTP response the transport opened (the
request, its headers and HTTP errors stay the SDK's) and builds each chunk's proto the
way the transport does, from the same text. With a client of your own only the protos are
there, and the losses above apply.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from .._sse import json_object
from ..errors import MalformedStreamError, ServerError, StreamInterrupted
from ._decode import Reader, read_proto
from ._errors import stream_error
from ._legacy_schema import restore_integers

_PROVIDER = "gemini"

_SIGNIFICANT = re.compile(rb'[{}\[\]"\\]')
_STRING_STOP = re.compile(rb'["\\]')
_BETWEEN = re.compile(rb"[\s,]*")


class JsonArrayElements:
    """Splits a streamed JSON array of objects into each object's bytes, in linear time.

    It follows strings (and their escapes) and nesting only; each object is parsed
    afterwards. `end()` raises when the array was not closed.
    """

    __slots__ = ("_depth", "_escaped", "_in_string", "_pieces", "_state")

    def __init__(self) -> None:
        self._state = "before"  # "before" the "[", "inside" the array, "after" its "]"
        self._depth = 0  # nesting inside the current element; 0 between elements
        self._in_string = False
        self._escaped = False
        self._pieces: list[bytes] = []

    def feed(self, data: bytes) -> list[bytes]:
        """The elements completed by `data`."""
        elements: list[bytes] = []
        start = 0 if self._depth else -1
        position, size = 0, len(data)
        while position < size:
            if self._depth == 0:
                position = _BETWEEN.match(data, position).end()  # type: ignore[union-attr]
                if position == size:
                    break
                position = self._between(data[position : position + 1], data, position)
                if self._depth:
                    start = position - 1
                continue
            if self._escaped:
                self._escaped = False
                position += 1
                continue
            if self._in_string:
                match = _STRING_STOP.search(data, position)
                if match is None:
                    break
                position = match.end()
                if match.group() == b"\\":
                    self._escaped = True
                else:
                    self._in_string = False
                continue
            match = _SIGNIFICANT.search(data, position)
            if match is None:
                break
            position = match.end()
            token = match.group()
            if token == b'"':
                self._in_string = True
            elif token in (b"{", b"["):
                self._depth += 1
            elif token in (b"}", b"]"):
                self._depth -= 1
                if self._depth == 0:
                    self._pieces.append(data[start:position])
                    elements.append(b"".join(self._pieces))
                    self._pieces = []
                    start = -1
        if self._depth and start >= 0:
            self._pieces.append(data[start:])
        return elements

    def _between(self, char: bytes, data: bytes, position: int) -> int:
        """Read the structural character at `position` outside any element; the next position."""
        if self._state == "before" and char == b"[":
            self._state = "inside"
        elif self._state == "inside" and char == b"]":
            self._state = "after"
        elif self._state == "inside" and char == b"{":
            self._depth = 1
        else:
            where = "after the end of" if self._state == "after" else "in"
            raise MalformedStreamError(
                f"gemini sent {data[position : position + 40]!r} {where} its JSON array of responses",
                provider=_PROVIDER,
            )
        return position + 1

    def end(self) -> None:
        """Check that the array was closed.

        Raises:
            StreamInterrupted: the body ended inside the array, as `google-api-core`'s
                "Unfinished stream" does.
        """
        if self._state != "after":
            raise StreamInterrupted(
                "the gemini stream broke off before its JSON array was closed; "
                "the partial answer is on .response",
                provider=_PROVIDER,
            )


def raw_elements(response: Any) -> Iterator[bytes]:
    """The elements of the JSON array in a streamed `requests.Response`, as they arrive.

    A chunked body (what Google sends) is read chunk by chunk; any other byte by byte, as
    `google-api-core` reads every body, so that nothing waits for more data than it needs.
    """
    elements = JsonArrayElements()
    chunk_size = None if getattr(response.raw, "chunked", False) else 1
    for data in response.iter_content(chunk_size=chunk_size):
        yield from elements.feed(data)
    elements.end()


def _restore_arguments(payload: dict[str, Any], schemas: Mapping[str, Mapping[str, Any]]) -> None:
    """Turn whole-number floats back into ints in function-call arguments, per the declared schema."""
    for candidate in payload.get("candidates") or ():
        content = candidate.get("content") if isinstance(candidate, dict) else None
        for part in (content.get("parts") if isinstance(content, dict) else None) or ():
            call = part.get("functionCall") if isinstance(part, dict) else None
            if isinstance(call, dict) and isinstance(call.get("args"), dict):
                call["args"] = restore_integers(call["args"], schemas.get(str(call.get("name"))))


def _derived_thoughts(payload: dict[str, Any]) -> None:
    """Put back the thinking tokens the legacy `UsageMetadata` proto drops, from the total."""
    usage = payload.get("usageMetadata")
    if not isinstance(usage, dict):
        return
    total = usage.get("totalTokenCount") or 0
    counted = (usage.get("promptTokenCount") or 0) + (usage.get("candidatesTokenCount") or 0)
    if total > counted:
        usage["thoughtsTokenCount"] = total - counted


def _enum_names(payload: dict[str, Any], finish_reasons: Any, block_reasons: Any) -> None:
    """Name the enums the decoder reads: the transport asks for them as numbers (`enum-encoding=int`).

    A number the legacy enums do not know (a newer finish reason) is kept as its text.
    """

    def name(enum: Any, value: Any) -> Any:
        if not isinstance(value, int) or isinstance(value, bool):
            return value
        try:
            return enum(value).name
        except ValueError:
            return str(value)

    for candidate in payload.get("candidates") or ():
        if isinstance(candidate, dict) and "finishReason" in candidate:
            candidate["finishReason"] = name(finish_reasons, candidate["finishReason"])
    feedback = payload.get("promptFeedback")
    if isinstance(feedback, dict) and "blockReason" in feedback:
        feedback["blockReason"] = name(block_reasons, feedback["blockReason"])


def legacy_reader(schemas: Mapping[str, Mapping[str, Any]]) -> Reader:
    """Reads the items a legacy call yields: raw elements (`bytes`) or the SDK's protos.

    `schemas` are the declared functions' parameter schemas, by name, for turning integer
    arguments back into ints.
    """
    from google.ai.generativelanguage import Candidate, GenerateContentResponse

    finish_reasons = Candidate.FinishReason
    block_reasons = GenerateContentResponse.PromptFeedback.BlockReason

    def read(item: Any) -> tuple[dict[str, Any], Any]:
        if isinstance(item, bytes):
            payload = json_object(item, _PROVIDER)
            if "error" in payload:
                raise stream_error(payload["error"])
            _enum_names(payload, finish_reasons, block_reasons)
            # The transport's own parse of the same text: `.chunk` is what the SDK yields.
            source = GenerateContentResponse.from_json(item.decode(), ignore_unknown_fields=True)
        else:
            if not type(item).pb(item).ListFields():
                raise ServerError(
                    "gemini sent a stream element the legacy SDK could not read (google-api-core "
                    "parses an error inside the stream into an empty response, dropping its code "
                    "and message)",
                    provider=_PROVIDER,
                )
            payload, source = read_proto(item)
            _derived_thoughts(payload)
        if schemas:
            _restore_arguments(payload, schemas)
        return payload, source

    return read
