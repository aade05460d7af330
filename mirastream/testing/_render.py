"""Turning scripted turns, scripted errors and transcripts into the bytes one SDK reads."""

from __future__ import annotations

import dataclasses

from ..errors import ConfigurationError
from . import _anthropic, _gemini, _openai, _openai_responses
from ._reply import Reply
from ._script import ErrorReply, Turn
from ._wire import WIRES, Frames, RenderContext, RenderError, Wire, compact

Scripted = Turn | ErrorReply | Reply
"""Anything the server can answer a request with."""


def render(
    reply: Scripted,
    wire: Wire,
    *,
    model: str = "scripted-model",
    number: int = 1,
    include_usage: bool = True,
) -> Reply:
    """`reply` in the wire format `wire`, as the server would send it.

    Useful to look at what a script becomes, or to save it as a transcript file. `model`
    and `number` stand for what the request would say (the model it asks for, its
    position on the server); `include_usage` for whether an OpenAI request asked for usage.

    Raises:
        ConfigurationError: `wire` is unknown, or `reply` cannot be written in it (a Gemini
            function call whose arguments are not a JSON object).
    """
    if wire not in WIRES:
        raise ConfigurationError(f"unknown wire format {wire!r}; use one of: {', '.join(WIRES)}")
    context = RenderContext(wire, model=model, number=number, include_usage=include_usage)
    try:
        return render_for(reply, context)
    except RenderError as error:
        raise ConfigurationError(str(error)) from None


def render_for(reply: Scripted, context: RenderContext) -> Reply:
    """`reply` for a request with `context`; raises `RenderError` when it cannot be written."""
    if isinstance(reply, Reply):
        if reply.adapt and context.wire == "gemini-legacy" and reply.body.lstrip().startswith(b"data:"):
            frames = _gemini.legacy_frames(_gemini.sse_payloads(reply.body), {}, cut=False)
            adapted = b"".join(frames.events)
            return dataclasses.replace(reply, body=adapted, content_type="application/json", chunked=True)
        return reply
    if isinstance(reply, ErrorReply):
        return _error_reply(reply, context.wire)
    if context.wire == "openai":
        frames = _openai.render(reply, context)
    elif context.wire == "openai-responses":
        frames = _openai_responses.render(reply, context)
    elif context.wire == "anthropic":
        frames = _anthropic.render(reply, context)
    elif context.wire == "gemini":
        frames = _gemini.render(reply, context)
    else:
        return _streamed(_gemini.render_legacy(reply, context), reply.delay, "application/json")
    return _streamed(frames, reply.delay, "text/event-stream")


def _streamed(frames: Frames, delay: float, content_type: str) -> Reply:
    body = b"".join(frames.events)
    return Reply(
        body,
        content_type=content_type,
        chunked=True,
        delay=delay,
        pauses=frames.pauses,
        cut_after=len(body) if frames.cut else None,
    )


def _error_reply(reply: ErrorReply, wire: Wire) -> Reply:
    if wire in ("openai", "openai-responses"):
        body, headers = _openai.error_body(reply)
    elif wire == "anthropic":
        body, headers = _anthropic.error_body(reply)
    else:
        body, headers = _gemini.error_body(reply)
    return Reply(
        compact(body).encode(),
        status=reply.status,
        headers={**headers, **reply.headers},
        content_type="application/json",
    )
