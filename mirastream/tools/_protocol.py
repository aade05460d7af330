"""The `Tool` protocol: what the engine and the provider encoders need from a tool.

The engine (`mirastream._run`) and the encoders know tools only through this protocol, so a
new tool (one that streams progress, a remote executor, ...) needs no change anywhere else.
Subclass `BaseTool` for the defaults of the optional parts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..errors import MirastreamError

if TYPE_CHECKING:
    import asyncio

    from ..events import Event
    from ..messages import ToolCall

__all__ = ["ArgumentWatcher", "BaseTool", "Prewarm", "Tool", "ToolArgumentsError", "ToolOutput"]


class ToolArgumentsError(MirastreamError, ValueError):
    """The arguments the model sent for a tool do not fit its parameters.

    The message lists every bad argument and is meant to be sent back to the model.

    Attributes:
        tool_name: the name of the tool.
        errors: pydantic's error details (`ValidationError.errors()`), empty when the
            arguments were not a JSON object at all.
    """

    def __init__(self, message: str, *, tool_name: str, errors: list[Any] | None = None) -> None:
        super().__init__(message)
        self.tool_name = tool_name
        self.errors = errors or []


class ToolOutput:
    """The result of one tool call: the text sent back to the model.

    A tool's `run` / `arun` yields its events, then one `ToolOutput` as its last item.

    Attributes:
        output: the text the model receives.
        is_error: whether it reports a failure (the providers that can flag one do).
    """

    __slots__ = ("is_error", "output")

    def __init__(self, output: str, is_error: bool = False) -> None:
        self.output = output
        self.is_error = is_error

    def __repr__(self) -> str:
        return f"ToolOutput({self.output!r}, is_error={self.is_error})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ToolOutput):
            return NotImplemented
        return (self.output, self.is_error) == (other.output, other.is_error)

    __hash__ = None  # type: ignore[assignment]


class ArgumentWatcher(Protocol):
    """Turns a call's arguments, as the model streams them, into events (code as it is written)."""

    def feed(self, arguments: str) -> list[Event]:
        """Events for the next piece of the arguments' JSON text."""
        ...

    def finish(self) -> list[Event]:
        """Events once the call is complete (whatever is held back, end markers)."""
        ...


class Prewarm(Protocol):
    """A start that a tool began in the background for a sync stream (`Tool.warm`)."""

    def cancel(self) -> None:
        """Abort the start if it is still under way; must not block."""
        ...


@runtime_checkable
class Tool(Protocol):
    """A tool the model can call and mirastream runs inside the stream.

    Offering it to the model:

    - `name`, `description`, `parameters` (a JSON schema of the arguments object);
    - `provider_options(provider)`: extra keys for that provider's tool definition, such as
      Anthropic's `{"eager_input_streaming": True}` for fine-grained argument streaming.

    While the model writes a call: `watch(call_id)` returns an `ArgumentWatcher` that turns the
    streamed arguments into events (the code interpreter's code pieces), or `None`.

    Running a call: `run(call)` (sync streams) and `arun(call)` (async streams) yield the
    tool's events as they happen and end with one `ToolOutput`, the text sent back to the
    model. Raising `ToolArgumentsError` (or any exception) sends its message back as an error
    result instead. If the consumer stops iterating, the generator is closed: clean up in
    `finally`.

    Lifecycle: `warm()` / `awarm()` start slow resources when a stream with the tool
    begins (return `None` when there is nothing to start); `close()` releases them.
    """

    name: str
    description: str
    parameters: dict[str, Any]

    def provider_options(self, provider: str) -> dict[str, Any]:
        """Extra keys for the tool's definition in `provider`'s request format."""
        ...

    def watch(self, call_id: str | None) -> ArgumentWatcher | None:
        """A watcher for one call's streamed arguments, or `None` to stream nothing."""
        ...

    def run(self, call: ToolCall) -> Iterator[Event | ToolOutput]:
        """Run `call` in a sync stream: its events, then its `ToolOutput`."""
        ...

    def arun(self, call: ToolCall) -> AsyncIterator[Event | ToolOutput]:
        """Run `call` in an async stream: its events, then its `ToolOutput`."""
        ...

    def warm(self) -> Prewarm | None:
        """Start slow resources for a sync stream in the background, or `None`."""
        ...

    def awarm(self) -> asyncio.Task[None] | None:
        """Start slow resources in a task of the running event loop, or `None`."""
        ...

    def close(self) -> None:
        """Release what the tool holds (sessions, child processes)."""
        ...


class BaseTool:
    """Defaults for the optional parts of `Tool`: no options, no watcher, no prewarm.

    A subclass sets `name`, `description` and `parameters` and writes `run`; `arun` runs the
    same steps by default (override it for real async work).
    """

    name: str
    description: str = ""
    parameters: dict[str, Any]

    def provider_options(self, provider: str) -> dict[str, Any]:
        """No extra keys."""
        return {}

    def watch(self, call_id: str | None) -> ArgumentWatcher | None:
        """Nothing streams while the model writes the call."""
        return None

    def run(self, call: ToolCall) -> Iterator[Event | ToolOutput]:
        """Run `call`; subclasses must write this."""
        raise NotImplementedError(f"{type(self).__name__} must implement run()")

    async def arun(self, call: ToolCall) -> AsyncIterator[Event | ToolOutput]:
        """Run `call` in an async stream: by default the same items as `run`."""
        for item in self.run(call):
            yield item

    def warm(self) -> Prewarm | None:
        """Nothing to start."""
        return None

    def awarm(self) -> asyncio.Task[None] | None:
        """Nothing to start."""
        return None

    def close(self) -> None:
        """Nothing to release."""
