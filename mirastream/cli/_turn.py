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
    """Sends each streamed item to the renderer, asks before code runs, saves images.

    Each question (and each run) comes right under the code it is about: when the model
    wrote several calls before the first runs, or anything was shown since its code, the
    code of the call is shown again, as it will run, before the question.
    """

    def __init__(self, renderer: Renderer, images: ImageSaver) -> None:
        self._renderer = renderer
        self._images = images
        self._language = "python"
        self._last_code: tuple[str | None, str] | None = None
        """The call id and code of the panel shown last, while nothing else came after it."""

    def show(self, item: Any) -> None:
        """Show one item of the stream (a chunk or an event)."""
        renderer = self._renderer
        if isinstance(item, ResponseChunk):
            if item.thinking or item.content:
                self._last_code = None
            if item.thinking:
                renderer.thinking(item.thinking)
            if item.content:
                renderer.text(item.content)
        elif isinstance(item, CodeEvent):
            shown = self._last_code[1] if self._last_code is not None else ""
            self._last_code = (item.call_id, shown + item.code)
            renderer.code(item.content)
        elif isinstance(item, ConfirmationEvent):
            self._language = item.language
            self._show_code_of(item)
            if item.decision is None:  # not --auto-run: the user decides
                (item.approve if renderer.confirm(item.language) else item.deny)()
            if item.decision is False:
                renderer.waiting()  # the model is told, and answers
        elif isinstance(item, ConsoleEvent):
            self._last_code = None
            renderer.output(item.content, item.stream)
        elif isinstance(item, ActiveLineEvent):
            renderer.active_line(item.line)
        elif isinstance(item, ImageEvent):
            self._image(item)
        elif isinstance(item, MarkerEvent):
            self._marker(item)

    def _show_code_of(self, item: ConfirmationEvent) -> None:
        """The call's code again, unless its panel is the last thing on the screen."""
        last = self._last_code
        self._last_code = None
        if last is not None:
            call, code = last
            if code == item.code and (call is None or item.call_id is None or call == item.call_id):
                return
        self._renderer.code_start(item.language)
        self._renderer.code(item.visible_code)
        self._renderer.code_end()

    def _marker(self, item: MarkerEvent) -> None:
        if item.type == "code":
            if item.start:
                self._last_code = None
                self._language = item.format or "python"
                self._renderer.code_start(self._language)
            else:
                self._renderer.code_end()
        elif item.type == "console":
            self._last_code = None
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


def tokens_per_second(response: Response) -> float | None:
    """How fast the model wrote: output tokens over the time spent streaming them, over all turns.

    A turn's streaming time runs from its first chunk to its end, so waiting for the first
    token, questions and running code do not count. `None` without usage or timing.
    """
    turns = [step.response for step in response.steps] or [response]
    tokens = 0
    seconds = 0.0
    for turn in turns:
        if turn.usage is None or turn.duration is None:
            continue
        tokens += turn.usage.output_tokens
        seconds += max(turn.duration - (turn.time_to_first_chunk or 0.0), 0.0)
    if not tokens or seconds < 0.01:  # too short to measure
        return None
    return tokens / seconds


def summary(provider: str, response: Response, model: str = "") -> str:
    """The footer of a turn: who answered, tokens and speed, why it stopped, steps and time.

    The model is the one the provider named in its answer, else `model` (the one asked for),
    so the footer names one even when nothing arrived.
    """
    parts = [provider, response.model or model or "unknown model"]
    if response.usage is not None:
        parts.append(f"{response.usage.input_tokens} in / {response.usage.output_tokens} out tokens")
    speed = tokens_per_second(response)
    if speed is not None:
        parts.append(f"{speed:.1f} tokens/s")
    if response.interrupted:
        parts.append("interrupted")
    else:
        parts.append(f"finish: {response.finish_reason or 'unknown'}")
    if len(response.steps) > 1:
        parts.append(f"{len(response.steps)} steps")
    if response.duration is not None:
        parts.append(f"{response.duration:.1f} s")
    return " · ".join(parts)
