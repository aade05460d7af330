"""The scripted model: what one model turn streams, written once for every provider.

A `Turn` is a list of steps (text pieces, thinking, tool calls, pauses) and how the turn
ends (a finish reason with usage, an error event, or a dropped connection). The server
renders it into the wire format of whichever SDK asks, when the request arrives.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigurationError
from ..responses import FinishReason, Usage

_FINISH_REASONS = ("stop", "length", "tool_calls", "content_filter")


def _pieces(kind: str, pieces: tuple[object, ...]) -> tuple[str, ...]:
    if not pieces:
        raise ConfigurationError(f"{kind}() needs at least one piece of text, e.g. {kind}('Hello')")
    for piece in pieces:
        if not isinstance(piece, str):
            raise ConfigurationError(f"{kind}() takes str pieces, not {type(piece).__name__}: {piece!r}")
    return tuple(str(piece) for piece in pieces)


@dataclass(frozen=True, init=False)
class Text:
    """Answer text, streamed as one chunk per piece: `Text("Try", " apple", " pie.")`."""

    pieces: tuple[str, ...]

    def __init__(self, *pieces: str) -> None:
        object.__setattr__(self, "pieces", _pieces("Text", pieces))


@dataclass(frozen=True, init=False)
class Thinking:
    """Visible reasoning, streamed as one chunk per piece (never part of the answer text).

    Attributes:
        pieces: the reasoning text, piece by piece.
        signature: the opaque signature Anthropic sends after a thinking block (a placeholder
            when not given; other providers send none).
    """

    pieces: tuple[str, ...]
    signature: str | None

    def __init__(self, *pieces: str, signature: str | None = None) -> None:
        object.__setattr__(self, "pieces", _pieces("Thinking", pieces))
        object.__setattr__(self, "signature", signature)


@dataclass(frozen=True, init=False)
class Call:
    """A tool call: its name, its JSON arguments (streamed in pieces) and, optionally, its id.

    `arguments` is a mapping (sent as one JSON piece), a JSON string (sent as given, so it
    may be invalid on purpose), or a sequence of JSON pieces that together form the
    arguments: `Call("get_weather", ['{"city": "Pa', 'ris"}'])`. Gemini sends a call whole:
    there the pieces are joined and must form a JSON object.

    Attributes:
        name: the tool's name.
        pieces: the arguments' JSON text, piece by piece.
        id: the call's id; by default one in the provider's style (none on Gemini, whose
            developer API often sends none).
        signature: Gemini's `thoughtSignature` for the call (base64), sent on Gemini only.
    """

    name: str
    pieces: tuple[str, ...]
    id: str | None
    signature: str | None

    def __init__(
        self,
        name: str,
        arguments: Mapping[str, Any] | str | Sequence[str] | None = None,
        *,
        id: str | None = None,
        signature: str | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"Call() needs the tool's name as a non-empty str, not {name!r}")
        pieces: tuple[str, ...]
        if arguments is None:
            pieces = ("{}",)
        elif isinstance(arguments, Mapping):
            try:
                pieces = (json.dumps(dict(arguments), ensure_ascii=False),)
            except TypeError as error:
                raise ConfigurationError(f"Call({name!r}): the arguments are not JSON: {error}") from None
        elif isinstance(arguments, str):
            pieces = (arguments,)
        else:
            pieces = _pieces("Call", tuple(arguments))
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "pieces", pieces)
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "signature", signature)

    @property
    def arguments(self) -> str:
        """The whole arguments text."""
        return "".join(self.pieces)


@dataclass(frozen=True)
class Pause:
    """Silence on the connection for `seconds` at this point of the stream (a slow model)."""

    seconds: float

    def __post_init__(self) -> None:
        if not isinstance(self.seconds, (int, float)) or self.seconds < 0:
            raise ConfigurationError(f"Pause() takes a number of seconds >= 0, not {self.seconds!r}")


@dataclass(frozen=True)
class ErrorEvent:
    """The provider reports an error inside the stream, after what came before; it ends the turn.

    `status` is the HTTP status the error stands for; each provider's error type follows
    from it (500: a server error, 529 or 503: overloaded, 429: rate limit, 400: invalid
    request, ...).
    """

    status: int = 500
    message: str | None = None

    def __post_init__(self) -> None:
        _check_status("ErrorEvent", self.status)


@dataclass(frozen=True)
class Disconnect:
    """The connection drops here, in the middle of the stream; it ends the turn."""


@dataclass(frozen=True)
class ErrorReply:
    """The provider refuses the request with an HTTP error status, in its own error format.

    Attributes:
        status: the HTTP status (400-599).
        message: the error message (a typical one for the status when not given).
        retry_after: seconds to wait before retrying, sent as the provider sends it
            (`retry-after` header; Google's `RetryInfo` detail on Gemini).
        headers: extra response headers.
    """

    status: int
    message: str | None = None
    retry_after: float | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_status("ErrorReply", self.status)
        if self.retry_after is not None and self.retry_after < 0:
            raise ConfigurationError(f"ErrorReply.retry_after must be >= 0, not {self.retry_after}")


def _check_status(kind: str, status: object) -> None:
    if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
        raise ConfigurationError(f"{kind} takes an HTTP error status (400-599), not {status!r}")


Step = Text | Thinking | Call | Pause
"""A step of a turn that streams something (or waits)."""


def _usage(value: Usage | tuple[int, int] | None) -> Usage | None:
    if value is None:
        return None
    if isinstance(value, Usage):
        usage = value
    elif (
        isinstance(value, tuple)
        and len(value) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in value)
    ):
        usage = Usage(input_tokens=value[0], output_tokens=value[1])
    else:
        raise ConfigurationError(
            f"Turn(usage=...) takes a mirastream.Usage or an (input_tokens, output_tokens) tuple, "
            f"not {value!r}"
        )
    if usage.total_tokens == 0:
        usage = usage.model_copy(update={"total_tokens": usage.input_tokens + usage.output_tokens})
    reasoning = usage.reasoning_tokens or 0
    cached = usage.cached_input_tokens or 0
    if reasoning > usage.output_tokens or cached > usage.input_tokens:
        raise ConfigurationError(
            "Turn(usage=...): reasoning tokens are part of output_tokens and cached tokens part of "
            f"input_tokens, so neither can be larger: {usage!r}"
        )
    return usage


@dataclass(frozen=True, init=False)
class Turn:
    """One scripted model turn: what the model streams in answer to one request.

    ```python
    Turn(Thinking("Apples are sweet."), Text("Apple", " pie."), usage=(15, 7))
    Turn(Text("Let me check."), Call("get_weather", {"city": "Paris"}))
    Turn(Text("Apple", " crumble"), ErrorEvent(500))  # fails midway
    ```

    Steps stream in order; an `ErrorEvent` or a `Disconnect` may come last and ends the
    turn without a finish reason.

    Attributes:
        steps: the steps that stream (or pause), in order.
        ending: the `ErrorEvent` or `Disconnect` that ends the turn, if any.
        finish_reason: why the model stopped; by default `"tool_calls"` when the turn calls
            a tool, else `"stop"` (`None` when the turn ends with an error or a drop).
        usage: the token counts reported at the end (`None`: none reported where the
            format allows; Anthropic's format always carries counts, so it sends zeros).
        model: the model name in the reply (default: the model the request asked for).
        id: the response id in the reply (default: one made up from the request number).
        delay: seconds between two events of the stream.
    """

    steps: tuple[Step, ...]
    ending: ErrorEvent | Disconnect | None
    finish_reason: FinishReason | None
    usage: Usage | None
    model: str | None
    id: str | None
    delay: float

    def __init__(
        self,
        *steps: Step | ErrorEvent | Disconnect,
        finish_reason: FinishReason | None = None,
        usage: Usage | tuple[int, int] | None = None,
        model: str | None = None,
        id: str | None = None,
        delay: float = 0.0,
    ) -> None:
        streamed: list[Step] = []
        ending: ErrorEvent | Disconnect | None = None
        for position, step in enumerate(steps):
            if ending is not None:
                raise ConfigurationError(
                    f"Turn(): {type(ending).__name__}() ends the turn, so it must be the last step "
                    f"(step {position} comes after it)"
                )
            if isinstance(step, (ErrorEvent, Disconnect)):
                ending = step
            elif isinstance(step, (Text, Thinking, Call, Pause)):
                streamed.append(step)
            else:
                raise ConfigurationError(
                    "Turn() takes Text, Thinking, Call, Pause, ErrorEvent and Disconnect steps, "
                    f"not {type(step).__name__}: {step!r}"
                )
        if finish_reason is not None and finish_reason not in _FINISH_REASONS:
            raise ConfigurationError(
                f"Turn(finish_reason=...) must be one of {', '.join(_FINISH_REASONS)}, not {finish_reason!r}"
            )
        if finish_reason is not None and ending is not None:
            raise ConfigurationError(
                f"Turn(): a turn that ends with {type(ending).__name__}() has no finish reason"
            )
        if not isinstance(delay, (int, float)) or delay < 0:
            raise ConfigurationError(f"Turn(delay=...) takes seconds >= 0, not {delay!r}")
        if ending is None and finish_reason is None:
            finish_reason = "tool_calls" if any(isinstance(s, Call) for s in streamed) else "stop"
        object.__setattr__(self, "steps", tuple(streamed))
        object.__setattr__(self, "ending", ending)
        object.__setattr__(self, "finish_reason", finish_reason)
        object.__setattr__(self, "usage", _usage(usage))
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "delay", float(delay))

    @property
    def calls(self) -> tuple[Call, ...]:
        """The turn's tool calls, in order."""
        return tuple(step for step in self.steps if isinstance(step, Call))
