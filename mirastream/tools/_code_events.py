"""The code interpreter's stream events: code as the model writes it, and output as it runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..events import ActiveLineEvent, CodeEvent, ConsoleEvent, Event, ImageEvent, MarkerEvent
from ._json_fields import JSONFieldStream

if TYPE_CHECKING:
    from .execution.events import ExecutionEvent

LANGUAGES = ("python", "shell")
_ALIASES = {
    "python": "python",
    "python3": "python",
    "py": "python",
    "shell": "shell",
    "bash": "shell",
    "sh": "shell",
}


def language_of(name: str | None) -> str | None:
    """The session language for a name the model used (`bash` -> `shell`), or `None`."""
    return _ALIASES.get((name or "").strip().lower())


class CodeWatcher:
    """Turns a code-interpreter call's streamed arguments into `code` events, in one pass.

    The code is held back until its language is known (models usually write `language`
    first), then streams piece by piece between a start and an end marker.
    """

    __slots__ = ("_buffer", "_call_id", "_code_done", "_ended", "_fields", "_language", "_started")

    def __init__(self, call_id: str | None) -> None:
        self._fields = JSONFieldStream(("language", "code"))
        self._call_id = call_id
        self._language: str | None = None
        self._buffer: list[str] = []
        self._started = self._ended = self._code_done = False

    def feed(self, arguments: str) -> list[Event]:
        """Events for the next piece of the arguments text."""
        return self._events(self._fields.feed(arguments))

    def finish(self) -> list[Event]:
        """Events at the end of the call: whatever code is left, and the end marker."""
        events = self._events(self._fields.finish())
        if self._language is None:
            self._language = language_of(self._fields.value("language")) or "python"
            events.extend(self._flush())
        return events + self._end()

    def _events(self, deltas: Any) -> list[Event]:
        events: list[Event] = []
        for delta in deltas:
            if delta.field == "language":
                if delta.done and self._language is None:
                    self._language = language_of(self._fields.value("language")) or "python"
                    events.extend(self._flush())
                    if self._code_done:
                        events.extend(self._end())
                continue
            if delta.text:
                if self._language is None:
                    self._buffer.append(delta.text)
                else:
                    events.extend(self._code(delta.text))
            if delta.done:
                self._code_done = True
                if self._language is not None:
                    events.extend(self._end())
        return events

    def _flush(self) -> list[Event]:
        if not self._buffer:
            return []
        text, self._buffer = "".join(self._buffer), []
        return self._code(text)

    def _code(self, text: str) -> list[Event]:
        assert self._language is not None
        events: list[Event] = []
        if not self._started:
            self._started = True
            fence = f"\n```{self._language}\n"
            events.append(MarkerEvent("assistant", "code", self._language, start=True, content=fence))
        events.append(CodeEvent(self._language, text, self._call_id))
        return events

    def _end(self) -> list[Event]:
        if not self._started or self._ended:
            return []
        self._ended = True
        return [MarkerEvent("assistant", "code", self._language, start=False, content="\n```\n")]


class OutputCollector:
    """Maps a run's execution events to stream events and keeps the model's (capped) copy."""

    __slots__ = ("_head", "_limit", "_omitted", "_tail", "_tail_size", "finished")

    def __init__(self, max_chars: int) -> None:
        self._limit = max_chars
        self._head: list[str] = []
        self._tail: list[str] = []
        self._tail_size = 0
        self._omitted = 0
        self.finished: Any = None

    def _keep(self, text: str) -> None:
        head_room = self._limit // 2 - sum(map(len, self._head))
        if head_room > 0:
            self._head.append(text[:head_room])
            text = text[head_room:]
        if not text:
            return
        self._tail.append(text)
        self._tail_size += len(text)
        budget = self._limit - self._limit // 2
        while self._tail_size > budget and self._tail:
            excess = self._tail_size - budget
            first = self._tail[0]
            if len(first) <= excess:
                self._tail.pop(0)
                self._tail_size -= len(first)
                self._omitted += len(first)
            else:
                self._tail[0] = first[excess:]
                self._tail_size -= excess
                self._omitted += excess

    def event(self, item: ExecutionEvent) -> Event | None:
        """The stream event for one execution event (`None` for the final status)."""
        from .execution.events import ActiveLine, Finished, Image, Output

        if isinstance(item, Output):
            self._keep(item.text)
            return ConsoleEvent(item.text, item.stream)
        if isinstance(item, ActiveLine):
            return ActiveLineEvent(item.line)
        if isinstance(item, Image):
            self._keep(f"[image: {item.mime}]\n")
            return ImageEvent(item.mime, item.data)
        if isinstance(item, Finished):
            self.finished = item
        return None

    def result(self) -> tuple[str, bool]:
        """The text sent back to the model, and whether the run failed."""
        output = "".join(self._head)
        if self._omitted:
            output += f"\n[... {self._omitted} characters of output omitted ...]\n"
        output += "".join(self._tail)
        finished = self.finished
        status = getattr(finished, "status", "ok")
        if not output.strip():
            output = "(no output)"
        if status == "ok":
            return output, False
        error = getattr(finished, "error", None)
        note = FINISH_NOTES.get(status, f"The code ended with status {status}")
        return f"{output}\n[{note}{': ' + error if error else ''}]", True


# How the text sent back to the model ends when the code did not finish with status `ok`.
FINISH_NOTES = {
    "error": "The code raised an error",
    "timeout": "The code was stopped: it ran past its time limit",
    "interrupted": "The code was interrupted",
    "killed": "The code was killed",
}


def finish_status(output: str) -> str:
    """How a run ended (`ok`, `error`, `timeout`, ...), read from its result text (see `result`)."""
    last = output.rstrip().rpartition("\n")[2]
    for status, note in FINISH_NOTES.items():
        if last.startswith(f"[{note}"):
            return status
    prefix = "[The code ended with status "
    if last.startswith(prefix):
        return last[len(prefix) :].rstrip("]").split(":")[0]
    return "ok"
