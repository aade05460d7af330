"""Events that join a stream when the model uses tools, and their Open Interpreter LMC form.

Everything a stream yields, model chunks included, has `role` (`assistant` or `computer`),
`type`, `format`, `content` (always a printable `str`), `start` / `end` markers and
`to_lmc()`. Printing `content` of every item gives a readable transcript: the model's text,
its code in a fenced block, and the code's output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

if TYPE_CHECKING:
    from .messages import ToolCall

__all__ = [
    "ActiveLineEvent",
    "CodeEvent",
    "ConfirmationEvent",
    "ConsoleEvent",
    "Event",
    "ImageEvent",
    "MarkerEvent",
    "StatusEvent",
]

Role = Literal["assistant", "computer"]


class Event:
    """Base of every non-chunk item a stream yields.

    Events also answer the chunk surface, with neutral values (`chunk`, `choice` and
    `delta` are `None`, `tool_calls` is empty, ...), so code written for chunks keeps
    working on a stream that mixes chunks and events.
    """

    __slots__ = ("content", "end", "format", "role", "start", "type")

    role: Role
    type: str
    format: str | None
    content: str
    start: bool
    end: bool

    # The chunk surface, neutral.
    thinking: ClassVar[str] = ""
    choice_index: ClassVar[int] = 0
    tool_calls: ClassVar[tuple[()]] = ()
    finish_reason: ClassVar[None] = None
    usage: ClassVar[None] = None
    chunk: ClassVar[None] = None
    choice: ClassVar[None] = None
    delta: ClassVar[None] = None
    model: ClassVar[None] = None

    @property
    def choices(self) -> list[Any]:
        """Always empty: an event carries no provider choices."""
        return []

    def _lmc_content(self) -> Any:
        return self.content

    def to_lmc(self) -> dict[str, Any]:
        """Return the event as an Open Interpreter LMC message dict."""
        message: dict[str, Any] = {"role": self.role, "type": self.type}
        if self.format is not None:
            message["format"] = self.format
        if self.start:
            message["start"] = True
        elif self.end:
            message["end"] = True
        else:
            message["content"] = self._lmc_content()
        return message

    def __repr__(self) -> str:
        fields = [f"role={self.role!r}", f"type={self.type!r}"]
        if self.format is not None:
            fields.append(f"format={self.format!r}")
        if self.start:
            fields.append("start=True")
        if self.end:
            fields.append("end=True")
        if self.content:
            fields.append(f"content={self.content!r}")
        return f"{type(self).__name__}({', '.join(fields)})"


class MarkerEvent(Event):
    """The start or end of a block: a message, a code block or a console block.

    `content` makes the printed transcript readable: code blocks are fenced.
    """

    __slots__ = ()

    def __init__(
        self, role: Role, type: str, format: str | None = None, *, start: bool = False, content: str = ""
    ) -> None:
        self.role = role
        self.type = type
        self.format = format
        self.start = start
        self.end = not start
        self.content = content


class CodeEvent(Event):
    """A piece of the code the model is writing, streamed while it writes the tool call."""

    __slots__ = ("call_id",)

    def __init__(self, language: str, content: str, call_id: str | None = None) -> None:
        self.role = "assistant"
        self.type = "code"
        self.format = language
        self.content = content
        self.start = self.end = False
        self.call_id = call_id


class ConfirmationEvent(Event):
    """The code is about to run: approve or deny it, or stop iterating so it never runs.

    Keeping on iterating without a decision is consent (the Open Interpreter contract).
    `content` is empty, since the code was already streamed; `code` and `language` hold it.
    """

    __slots__ = ("_decision", "call_id", "code", "language")

    def __init__(self, language: str, code: str, call_id: str | None = None) -> None:
        self.role = "computer"
        self.type = "confirmation"
        self.format = "execution"
        self.content = ""
        self.start = self.end = False
        self.language = language
        self.code = code
        self.call_id = call_id
        self._decision: bool | None = None

    def approve(self) -> None:
        """Run the code (also what happens when you simply keep iterating)."""
        self._decision = True

    def deny(self) -> None:
        """Do not run the code; the model is told that the user declined."""
        self._decision = False

    @property
    def decision(self) -> bool | None:
        """`True` approved, `False` denied, `None` not decided (yet)."""
        return self._decision

    def _lmc_content(self) -> Any:
        return {"type": "code", "format": self.language, "content": self.code}


class ConsoleEvent(Event):
    """Output of running code, as it is produced. `stream` is `stdout` or `stderr`."""

    __slots__ = ("stream",)

    def __init__(self, content: str, stream: Literal["stdout", "stderr"] = "stdout") -> None:
        self.role = "computer"
        self.type = "console"
        self.format = "output"
        self.content = content
        self.start = self.end = False
        self.stream = stream


class ActiveLineEvent(Event):
    """The line of the running code being executed (`None` once it has finished).

    Its `content` is empty so that a printed transcript stays clean; `line` holds the number.
    """

    __slots__ = ("line",)

    def __init__(self, line: int | None) -> None:
        self.role = "computer"
        self.type = "console"
        self.format = "active_line"
        self.content = ""
        self.start = self.end = False
        self.line = line

    def _lmc_content(self) -> Any:
        return None if self.line is None else str(self.line)


class ImageEvent(Event):
    """An image the code displayed (a matplotlib figure, say). `data` is base64 (SVG: text)."""

    __slots__ = ("data", "mime")

    _FORMATS: ClassVar[dict[str, str]] = {
        "image/png": "base64.png",
        "image/jpeg": "base64.jpeg",
        "image/svg+xml": "svg",
    }

    def __init__(self, mime: str, data: str) -> None:
        self.role = "computer"
        self.type = "image"
        self.format = self._FORMATS.get(mime, mime)
        self.content = f"[image: {mime}]\n"
        self.start = self.end = False
        self.mime = mime
        self.data = data

    def _lmc_content(self) -> Any:
        return self.data


StatusKind = Literal["run.created", "step.started", "step.completed", "run.completed"]


class StatusEvent(Event):
    """Progress of the tool loop, yielded only when asked for (`stream.with_status()`).

    `kind` is `run.created`, `step.started` / `step.completed` (with the tool `call`, and
    the `result` text sent back to the model once completed) or `run.completed`.
    """

    __slots__ = ("call", "kind", "result", "step")

    def __init__(
        self, kind: StatusKind, step: int, call: ToolCall | None = None, result: str | None = None
    ) -> None:
        self.role = "computer"
        self.type = "status"
        self.format = kind
        self.content = ""
        self.start = self.end = False
        self.kind = kind
        self.step = step
        self.call = call
        self.result = result

    def _lmc_content(self) -> Any:
        content: dict[str, Any] = {"step": self.step}
        if self.call is not None:
            content["tool_call"] = {
                "id": self.call.id,
                "name": self.call.name,
                "arguments": self.call.arguments,
            }
        if self.result is not None:
            content["result"] = self.result
        return content
