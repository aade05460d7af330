"""What a run reports as it goes, to an observer such as the OpenTelemetry instrumentation.

`Run` calls these hooks at the moments only it knows; a run without an observer calls
nothing. Hooks must not raise and must return quickly: they run inside the stream.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ._provider import ProviderCall
    from .events import Event
    from .messages import ToolCall
    from .responses import Response, ToolResult
    from .tools._protocol import Tool


class RunObserver(Protocol):
    """Hooks into the life of one stream's run."""

    def attempt_started(self, call: ProviderCall[Any], attempt: int) -> None:
        """A request is sent: `attempt` counts from 1 for each model turn (2 and up: a retry)."""
        ...

    def attempt_failed(self, error: BaseException) -> None:
        """The request of the current attempt failed before its first chunk (it may be retried)."""
        ...

    def first_chunk(self) -> None:
        """The first chunk with text, thinking or a tool call of the current turn arrived."""
        ...

    def turn_finished(self, response: Response) -> None:
        """The current model turn ended properly; `response` is its answer."""
        ...

    def tool_started(self, tool: Tool, call: ToolCall) -> None:
        """A tool starts running `call`."""
        ...

    def tool_event(self, event: Event) -> None:
        """The running tool yielded `event` (before the consumer sees it)."""
        ...

    def tool_finished(self, result: ToolResult) -> None:
        """The running tool ended with `result` (its error results included)."""
        ...

    def run_finished(self, state: str, error: BaseException | None, response: Response) -> None:
        """The stream ended: `done`, `interrupted` or `failed` (with the error raised).

        `error` of an interrupted stream is the `KeyboardInterrupt` or cancellation that
        stopped it, `None` for a `break`, `close()` or a dropped stream.
        """
        ...
