"""Events that join a stream when the model uses tools, and the `StreamItem` protocol.

Everything a stream yields, model chunks included, is a `StreamItem`: it has `item_type`
(which kind of item it is, for `match`), `role` (`assistant` or `computer`), `type`,
`format`, `content` (always a printable `str`), `start` / `end` markers and `to_lmc()`.
Printing `content` of every item gives a readable transcript: the model's text, its code in
a fenced block, and the code's output. Chunk-only fields (`thinking`, `tool_calls`, `usage`,
`.chunk`, ...) exist only on chunks: check `item.item_type == "chunk"` (or
`isinstance(item, ResponseChunk)`) first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, runtime_checkable

from ._visible import visible

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
    "StreamItem",
    "ToolEvent",
    "StreamItemType",
]

Role = Literal["assistant", "computer"]

StreamItemType = Literal[
    "chunk", "marker", "code", "confirmation", "console", "active_line", "image", "status", "tool"
]
"""What a stream item is: a model `chunk`, or one of the events (see each class)."""


@runtime_checkable
class StreamItem(Protocol):
    """What every item a stream yields has, chunks and events alike."""

    @property
    def item_type(self) -> StreamItemType:
        """Which kind of item this is: `"chunk"` or an event kind; a field to `match` on."""
        ...

    @property
    def role(self) -> str:
        """`assistant` (the model's text and code) or `computer` (what running code gives)."""
        ...

    @property
    def type(self) -> str:
        """The LMC type: `message`, `code`, `confirmation`, `console`, `image`, `status`."""
        ...

    @property
    def format(self) -> str | None:
        """The LMC format (a code language, `output`, `active_line`, ...), or `None`."""
        ...

    @property
    def content(self) -> str:
        """Printable text: safe to print for every item."""
        ...

    @property
    def start(self) -> bool:
        """Whether this item opens a block (a message, a code block, a console block)."""
        ...

    @property
    def end(self) -> bool:
        """Whether this item closes a block."""
        ...

    def to_lmc(self) -> dict[str, Any]:
        """The item as one Open Interpreter LMC dict."""
        ...


class Event:
    """Base of every non-chunk item a stream yields (a `StreamItem`).

    `provider_executed` is `True` on the events of code the provider ran on its own servers
    (hosted code execution, see `HostedCodeInterpreter`), `False` for what ran here.
    """

    __slots__ = ("content", "end", "format", "provider_executed", "role", "start", "type")

    item_type: ClassVar[StreamItemType]
    role: Role
    type: str
    format: str | None
    content: str
    start: bool
    end: bool
    provider_executed: bool

    def __init__(
        self,
        role: Role,
        type: str,
        format: str | None,
        content: str = "",
        *,
        start: bool = False,
        end: bool = False,
    ) -> None:
        self.role = role
        self.type = type
        self.format = format
        self.content = content
        self.start = start
        self.end = end
        self.provider_executed = False

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
        if self.provider_executed:
            fields.append("provider_executed=True")
        return f"{type(self).__name__}({', '.join(fields)})"


class MarkerEvent(Event):
    """The start or end of a block: a message, a code block or a console block.

    `content` makes the printed transcript readable: code blocks are fenced.
    """

    item_type: ClassVar[StreamItemType] = "marker"
    __slots__ = ()

    def __init__(
        self, role: Role, type: str, format: str | None = None, *, start: bool = False, content: str = ""
    ) -> None:
        super().__init__(role, type, format, content, start=start, end=not start)


class CodeEvent(Event):
    r"""A piece of the code the model is writing, streamed while it writes the tool call.

    `content` is safe to print: control characters and terminal escapes are shown as escapes
    (`\x1b`), so a line cannot hide; `code` holds the piece exactly as written.
    """

    item_type: ClassVar[StreamItemType] = "code"
    __slots__ = ("call_id", "code")

    def __init__(self, language: str, content: str, call_id: str | None = None) -> None:
        super().__init__("assistant", "code", language, visible(content))
        self.code = content
        self.call_id = call_id

    def _lmc_content(self) -> Any:
        return self.code


class ConfirmationEvent(Event):
    """The code is about to run: approve or deny it, or stop iterating so it never runs.

    Keeping on iterating without a decision is consent (the Open Interpreter contract).
    `content` is empty, since the code was already streamed; `code` and `language` hold it.
    """

    item_type: ClassVar[StreamItemType] = "confirmation"
    __slots__ = ("_code", "_decision", "_language", "call_id")

    def __init__(self, language: str, code: str, call_id: str | None = None) -> None:
        super().__init__("computer", "confirmation", "execution")
        self._language = language
        self._code = code
        self.call_id = call_id
        self._decision: bool | None = None

    @property
    def code(self) -> str:
        """The code that runs if approved, exactly (read-only: what you approve is what runs)."""
        return self._code

    @property
    def language(self) -> str:
        """The session language that runs it: `python` or `shell`."""
        return self._language

    @property
    def visible_code(self) -> str:
        """`code` safe to print: control characters and escapes shown, never obeyed."""
        return visible(self._code)

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
        return {"type": "code", "format": self.language, "content": self.visible_code}


class ConsoleEvent(Event):
    """Output of running code, as it is produced. `stream` is `stdout` or `stderr`.

    `content` is safe to print (control characters and terminal escapes shown as escapes);
    `data` holds the output exactly as the code wrote it.
    """

    item_type: ClassVar[StreamItemType] = "console"
    __slots__ = ("data", "stream")

    def __init__(self, content: str, stream: Literal["stdout", "stderr"] = "stdout") -> None:
        super().__init__("computer", "console", "output", visible(content))
        self.data = content
        self.stream = stream

    def _lmc_content(self) -> Any:
        return self.data


class ActiveLineEvent(Event):
    """The line of the running code being executed (`None` once it has finished).

    Its `content` is empty so that a printed transcript stays clean; `line` holds the number.
    """

    item_type: ClassVar[StreamItemType] = "active_line"
    __slots__ = ("line",)

    def __init__(self, line: int | None) -> None:
        super().__init__("computer", "console", "active_line")
        self.line = line

    def _lmc_content(self) -> Any:
        return None if self.line is None else str(self.line)


class ImageEvent(Event):
    """An image the code displayed (a matplotlib figure, say). `data` is base64 (SVG: text)."""

    item_type: ClassVar[StreamItemType] = "image"
    __slots__ = ("data", "mime")

    _FORMATS: ClassVar[dict[str, str]] = {
        "image/png": "base64.png",
        "image/jpeg": "base64.jpeg",
        "image/svg+xml": "svg",
    }

    def __init__(self, mime: str, data: str) -> None:
        super().__init__("computer", "image", self._FORMATS.get(mime, mime), f"[image: {mime}]\n")
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

    item_type: ClassVar[StreamItemType] = "status"
    __slots__ = ("call", "kind", "result", "step")

    def __init__(
        self, kind: StatusKind, step: int, call: ToolCall | None = None, result: str | None = None
    ) -> None:
        super().__init__("computer", "status", kind)
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


class ToolEvent(Event):
    """What a tool of your own reports while it runs (progress, a partial result, ...).

    Args:
        tool: the tool's name (the event's `format`).
        content: printable text for the transcript ("" to show nothing).
        data: any payload for programs that read the stream.
    """

    item_type: ClassVar[StreamItemType] = "tool"
    __slots__ = ("data",)

    def __init__(self, tool: str, content: str = "", data: Any = None) -> None:
        super().__init__("computer", "tool", tool, content)
        self.data = data

    def _lmc_content(self) -> Any:
        return self.content if self.data is None else self.data
