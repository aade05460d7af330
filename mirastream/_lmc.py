"""Open Interpreter's LMC stream of a mirastream stream, and its consolidated messages.

`LMCTranslator` turns what a stream yields (chunks and events, in order) into the dicts
Open Interpreter's `interpreter.chat(..., stream=True)` yields for the same run: every run
of one kind of content (model text, one code block, console output, an image) between a
`start` and an `end` flag dict, the confirmation before code runs on its own, and no dict
with empty content. It does no IO, so the sync and async streams share it.

`lmc_messages` folds such a stream into one dict per message, as `interpreter.messages`
holds them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .chunks import ResponseChunk
from .events import ActiveLineEvent, CodeEvent, ConfirmationEvent, ConsoleEvent, ImageEvent, MarkerEvent
from .responses import Response, Step

__all__ = ["LMCMessage", "LMCTranslator", "lmc_messages", "response_lmc_messages"]

_EXECUTING = "executing"


class LMCMessage(dict[str, Any]):
    """One LMC dict, equal to the plain dict Open Interpreter yields.

    The confirmation also answers the older Open Interpreter check for code about to run:
    `"executing" in message` is true for it alone, and `message["executing"]` gives
    `{"code": ..., "language": ...}`. That key is not among its items, so the dict still
    compares equal to (and prints as) Open Interpreter's confirmation.
    """

    def _executing(self) -> dict[str, Any] | None:
        content = dict.get(self, "content")
        if dict.get(self, "type") != "confirmation" or not isinstance(content, Mapping):
            return None
        return {"code": content.get("content"), "language": content.get("format")}

    def __contains__(self, key: object) -> bool:
        if key == _EXECUTING and self._executing() is not None:
            return True
        return dict.__contains__(self, key)

    def __getitem__(self, key: str) -> Any:
        if key == _EXECUTING and not dict.__contains__(self, key):
            executing = self._executing()
            if executing is not None:
                return executing
        return dict.__getitem__(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        """`dict.get`, answering `"executing"` as `[]` does."""
        try:
            return self[key]
        except KeyError:
            return default


def _flag(block: dict[str, Any], marker: str) -> LMCMessage:
    return LMCMessage({**block, marker: True})


def _block_of(message: Mapping[str, Any]) -> dict[str, Any]:
    """The flag base of a content dict: role and type, and format except for console output."""
    block = {"role": message["role"], "type": message["type"]}
    if "format" in message and message["type"] != "console":
        block["format"] = message["format"]
    return block


class _CodeSlot:
    """The code of one tool call, held back while another call's code block is being shown."""

    __slots__ = ("bound", "call_id", "ended", "language", "pieces")

    def __init__(self, language: str | None, call_id: str | None = None, bound: bool = False) -> None:
        self.language = language
        self.call_id = call_id
        self.bound = bound  # whether a code piece told which call this is
        self.pieces: list[str] = []
        self.ended = False


class LMCTranslator:
    """Turns stream items into Open Interpreter's streamed LMC dicts, one item at a time.

    `feed(item)` returns the dicts for one chunk or event (possibly none), `finish()` the
    closing flag once the stream has ended. Status events and reasoning text have no LMC
    form and give nothing; so do chunks without text (usage, tool-call pieces).

    Code of parallel tool calls comes one call after the other: pieces of a call whose
    block is not shown yet wait until the block before it ends.
    """

    def __init__(self) -> None:
        self._block: dict[str, Any] | None = None
        self._slots: list[_CodeSlot] = []  # the first one is the call whose code is shown
        self._last_slot: _CodeSlot | None = None

    def feed(self, item: object) -> list[LMCMessage]:
        """The LMC dicts for the next chunk or event of the stream."""
        if isinstance(item, ResponseChunk):
            if not item.content:
                return []
            return self._content({"role": "assistant", "type": "message", "content": item.content})
        if isinstance(item, MarkerEvent):
            return self._marker(item)
        if isinstance(item, CodeEvent):
            return self._code(item)
        if isinstance(item, ConfirmationEvent):
            return [*self._flush_code(), *self._close(), LMCMessage(item.to_lmc())]
        if isinstance(item, ActiveLineEvent):
            return self._content(item.to_lmc())
        if isinstance(item, (ConsoleEvent, ImageEvent)):
            if isinstance(item, ConsoleEvent) and not item.content:
                return []
            return self._content(item.to_lmc())
        return []  # status events and anything else without an LMC form

    def finish(self) -> list[LMCMessage]:
        """The dicts still owed once the stream has ended: held-back code and the last end flag."""
        return self._flush_code() + self._close()

    # Blocks ------------------------------------------------------------------------------

    def _content(self, message: dict[str, Any]) -> list[LMCMessage]:
        """A content dict, after the flags that close the open block and open its own."""
        messages: list[LMCMessage] = []
        block = _block_of(message)
        if block != self._block:
            messages.extend(self._close())
            self._block = block
            messages.append(_flag(block, "start"))
        messages.append(LMCMessage(message))
        return messages

    def _close(self) -> list[LMCMessage]:
        block, self._block = self._block, None
        return [] if block is None else [_flag(block, "end")]

    def _marker(self, marker: MarkerEvent) -> list[LMCMessage]:
        if marker.type == "code":
            if marker.start:
                self._slots.append(_CodeSlot(marker.format))
                return []
            return self._end_code(getattr(marker, "call_id", None))
        if marker.end and self._block is not None and self._block["role"] == marker.role:
            return self._close()  # the end of a console block (an image block inside it too)
        return []  # blocks open with their first content; a message block has no markers

    # Code ----------------------------------------------------------------------------------

    @staticmethod
    def _code_message(slot: _CodeSlot, piece: str) -> dict[str, Any]:
        return {"role": "assistant", "type": "code", "format": slot.language or "python", "content": piece}

    def _slot_for(self, event: CodeEvent) -> _CodeSlot:
        if self._slots and not self._slots[-1].bound:
            slot = self._slots[-1]  # the first piece after a start marker
            slot.bound, slot.call_id = True, event.call_id
            slot.language = slot.language or event.format
            return slot
        for slot in reversed(self._slots):
            if not slot.ended and slot.call_id == event.call_id:
                return slot
        slot = _CodeSlot(event.format, event.call_id, bound=True)  # no start marker came
        self._slots.append(slot)
        return slot

    def _code(self, event: CodeEvent) -> list[LMCMessage]:
        if not event.content:
            return []
        slot = self._last_slot = self._slot_for(event)
        if slot is not self._slots[0]:
            slot.pieces.append(event.content)
            return []
        return self._content(self._code_message(slot, event.content))

    def _flush_code(self) -> list[LMCMessage]:
        """Every held-back code block, each closed (code whose end marker never came)."""
        messages: list[LMCMessage] = []
        for slot in self._slots:
            for piece in slot.pieces:
                messages.extend(self._content(self._code_message(slot, piece)))
            if self._block is not None and self._block["type"] == "code":
                messages.extend(self._close())
        self._slots.clear()
        self._last_slot = None
        return messages

    def _end_code(self, call_id: str | None) -> list[LMCMessage]:
        open_slots = [slot for slot in self._slots if not slot.ended]
        if not open_slots:
            return []
        ended = next((slot for slot in open_slots if call_id is not None and slot.call_id == call_id), None)
        if ended is None:
            last = self._last_slot
            ended = last if last is not None and not last.ended else open_slots[0]
        ended.ended = True
        messages: list[LMCMessage] = []
        while self._slots and self._slots[0].ended:
            shown = self._slots.pop(0)
            if self._block is not None and self._block["type"] == "code":
                messages.extend(self._close())
            if self._slots:  # the next call's code, held back until now
                following = self._slots[0]
                for piece in following.pieces:
                    messages.extend(self._content(self._code_message(following, piece)))
                following.pieces.clear()
            if shown is self._last_slot:
                self._last_slot = None
        return messages


def lmc_messages(stream: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Fold streamed LMC dicts into one dict per message, as `interpreter.messages` holds them.

    Message text, code and console output are joined; flags, active lines and the
    confirmation are left out. Code that ran without printing anything gets an empty
    console output message, as Open Interpreter records it.
    """
    messages: list[dict[str, Any]] = []
    new_block = True
    for chunk in stream:
        if chunk.get("start") or chunk.get("end"):
            new_block = True
            continue
        if chunk.get("type") == "confirmation" or "content" not in chunk:
            continue
        if chunk.get("format") == "active_line":
            if chunk["content"] is None and (not messages or messages[-1]["role"] != "computer"):
                messages.append({"role": "computer", "type": "console", "format": "output", "content": ""})
            continue
        last = messages[-1] if messages else None
        same_kind = last is not None and all(
            last.get(key) == chunk.get(key) for key in ("role", "type", "format")
        )
        if last is not None and same_kind and not new_block and isinstance(last["content"], str):
            last["content"] += chunk["content"]
        else:
            messages.append(
                {key: value for key, value in chunk.items() if key in ("role", "type", "format", "content")}
            )
        new_block = False
    return messages


def response_lmc_messages(response: Response) -> list[dict[str, Any]]:
    """A finished response as `interpreter.messages` holds it: text, code and its output.

    Each model turn gives its text, then for each code call (arguments with `language` and
    `code`) the code and the output sent back to the model.
    """
    from .tools._code_events import language_of

    messages: list[dict[str, Any]] = []
    for step in response.steps or (Step(response=response),):
        choice = step.response.choice
        if choice.text:
            messages.append({"role": "assistant", "type": "message", "content": choice.text})
        results = {result.call.id: result for result in step.results}
        for call in choice.tool_calls:
            arguments = call.arguments or {}
            code, language = arguments.get("code"), language_of(arguments.get("language"))
            if not isinstance(code, str) or language is None:
                continue
            messages.append({"role": "assistant", "type": "code", "format": language, "content": code})
            result = results.get(call.id)
            if result is not None:
                output = {"role": "computer", "type": "console", "format": "output", "content": result.output}
                messages.append(output)
    return messages
