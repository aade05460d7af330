"""One turn of the chat: stream the model's answer, its code, the confirmation and the output."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..chunks import ResponseChunk
from ..events import ActiveLineEvent, CodeEvent, ConfirmationEvent, ConsoleEvent, ImageEvent, MarkerEvent

if TYPE_CHECKING:
    from ..responses import Response
    from ..streams import Stream
    from ._render import ImageSaver, Renderer


@dataclass(frozen=True)
class TurnResult:
    """What a turn produced; `interrupted` when Ctrl-C stopped it."""

    response: Response
    interrupted: bool


class TurnView:
    """Sends each streamed item to the renderer, asks before code runs, saves images."""

    def __init__(self, renderer: Renderer, images: ImageSaver) -> None:
        self._renderer = renderer
        self._images = images
        self._language = "python"

    def show(self, item: Any) -> None:
        """Show one item of the stream (a chunk or an event)."""
        renderer = self._renderer
        if isinstance(item, ResponseChunk):
            if item.thinking:
                renderer.thinking(item.thinking)
            if item.content:
                renderer.text(item.content)
        elif isinstance(item, CodeEvent):
            renderer.code(item.content)
        elif isinstance(item, ConfirmationEvent):
            self._language = item.language
            if item.decision is None:  # not --auto-run: the user decides
                (item.approve if renderer.confirm(item.language) else item.deny)()
            if item.decision is False:
                renderer.waiting()  # the model is told, and answers
        elif isinstance(item, ConsoleEvent):
            renderer.output(item.content, item.stream)
        elif isinstance(item, ActiveLineEvent):
            renderer.active_line(item.line)
        elif isinstance(item, ImageEvent):
            self._image(item)
        elif isinstance(item, MarkerEvent):
            self._marker(item)

    def _marker(self, item: MarkerEvent) -> None:
        if item.type == "code":
            if item.start:
                self._language = item.format or "python"
                self._renderer.code_start(self._language)
            else:
                self._renderer.code_end()
        elif item.type == "console":
            if item.start:
                self._renderer.console_start(self._language)
            else:
                self._renderer.console_end()
                self._renderer.waiting()  # the model reads the output

    def _image(self, item: ImageEvent) -> None:
        try:
            path = self._images.save(item.mime, item.data)
        except (OSError, ValueError) as error:
            self._renderer.error(f"could not save an image ({item.mime}): {error}")
            return
        self._renderer.image(path)


def run_turn(stream: Stream[Any], view: TurnView, renderer: Renderer) -> TurnResult:
    """Read `stream` to its end, showing everything; Ctrl-C stops it cleanly.

    Stopping closes the stream: the connection is released, and running code is stopped
    with its whole process group. Errors (typed `MirastreamError`s) propagate.
    """
    try:
        with stream:
            renderer.waiting()
            for item in stream:
                view.show(item)
    except KeyboardInterrupt:
        stream.close()
        renderer.finish()
        renderer.notice("interrupted")
        return TurnResult(stream.response, interrupted=True)
    finally:
        renderer.finish()
    return TurnResult(stream.response, interrupted=False)


def summary(provider: str, response: Response) -> str:
    """The footer of a turn: who answered, tokens, why it stopped, steps and time."""
    parts = [provider]
    if response.model:
        parts.append(response.model)
    if response.usage is not None:
        parts.append(f"{response.usage.input_tokens} in / {response.usage.output_tokens} out tokens")
    if response.interrupted:
        parts.append("interrupted")
    else:
        parts.append(f"finish: {response.finish_reason or 'unknown'}")
    if len(response.steps) > 1:
        parts.append(f"{len(response.steps)} steps")
    if response.duration is not None:
        parts.append(f"{response.duration:.1f} s")
    return " · ".join(parts)
