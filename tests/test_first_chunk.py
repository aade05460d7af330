"""The first chunk, defined once: the first item that carries text, thinking or a tool call.

`time_to_first_chunk` is measured to it and the `first_chunk` timeout is anchored to it, on
every provider, sync and async; a failure before it (right after OpenAI's empty role chunk,
Anthropic's `message_start`) is still retried, and nothing is shown twice.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import tenacity

from mirastream import Timeouts
from mirastream.errors import APITimeoutError
from mirastream.retries import is_retryable

from .loopback import LoopbackServer, Reply
from .reading import MODES, consume
from .test_contract import HARNESSES, Harness

FULL_TEXT = "Try apple crumble, apple pie and baked apples."
SSE_HARNESSES = [harness for harness in HARNESSES if harness.name != "gemini-legacy"]
FAST_RETRIES = tenacity.Retrying(
    stop=tenacity.stop_after_attempt(3),
    wait=tenacity.wait_none(),
    retry=tenacity.retry_if_exception(is_retryable),
    reraise=True,
)


@pytest.fixture(params=SSE_HARNESSES, ids=lambda harness: harness.name)
def harness(
    request: pytest.FixtureRequest, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> Harness:
    chosen: Harness = request.param
    chosen.setup(server, monkeypatch)
    return chosen


def events_of(reply: Reply) -> list[bytes]:
    return [event + b"\n\n" for event in reply.body.split(b"\n\n") if event.strip()]


def leading_events(events: list[bytes]) -> int:
    """How many events come before the first one with text."""
    return next(index for index, event in enumerate(events) if b"Try" in event)


@pytest.mark.parametrize("mode", MODES)
def test_keep_alives_do_not_hold_off_the_first_chunk_timeout(
    harness: Harness, server: LoopbackServer, mode: str
) -> None:
    # Comments every 0.1 s for 6 s: the connection never goes idle, but no chunk comes.
    server.queue(Reply(b": keep-alive\n\n" * 60, chunked=True, delay=0.1))
    started = time.perf_counter()
    _, _, error = consume(
        harness.prompt_class()(ingredient="apples"),
        mode,
        timeouts=Timeouts(connect=5, first_chunk=1.0, idle=5),
        retries=0,
    )
    elapsed = time.perf_counter() - started
    assert isinstance(error, APITimeoutError), error
    assert "first_chunk" in str(error)
    assert elapsed < 3.0, elapsed


@pytest.mark.parametrize("mode", MODES)
def test_time_to_first_chunk_is_measured_to_the_first_text(
    harness: Harness, server: LoopbackServer, mode: str
) -> None:
    events = events_of(harness.reply("text"))
    first_text = leading_events(events)
    # The chunks before the text arrive at once; the text comes 0.4 s later.
    server.queue(Reply(b"".join(events), chunked=True, pauses={first_text: 0.4}))
    chunks, response, error = consume(harness.prompt_class()(ingredient="apples"), mode)
    assert error is None, error
    assert "".join(chunk.content for chunk in chunks) == FULL_TEXT
    assert response.time_to_first_chunk is not None and response.time_to_first_chunk >= 0.35


@pytest.mark.parametrize("mode", MODES)
def test_a_failure_before_the_first_text_is_retried_and_nothing_is_shown_twice(
    harness: Harness, server: LoopbackServer, mode: str
) -> None:
    events = events_of(harness.reply("text"))
    before = b"".join(events[: leading_events(events)])
    if not before:
        pytest.skip(f"{harness.name} sends its text in its first event")
    # The first attempt breaks right after the events without text; the second is whole.
    server.queue(Reply(before, chunked=True, cut_after=len(before)), harness.reply("text"))
    chunks, response, error = consume(harness.prompt_class()(ingredient="apples"), mode, retries=FAST_RETRIES)
    assert error is None, error
    texts: list[Any] = [chunk.content for chunk in chunks if chunk.content]
    assert "".join(texts) == response.text == FULL_TEXT
    assert len(server.requests) == 2
