"""A server-sent event larger than `max_event_bytes` is refused, with what came before it.

The limit guards memory against a broken or hostile server (a line that never ends); a
prompt class sets its own (16 MiB by default).
"""

from __future__ import annotations

import pytest

from mirastream.errors import MalformedStreamError

from .loopback import LoopbackServer, Reply
from .reading import MODES, consume
from .test_contract import Harness
from .test_first_chunk import harness

__all__ = ["harness"]  # fixture

FULL_TEXT = "Try apple crumble, apple pie and baked apples."


@pytest.mark.parametrize("mode", MODES)
def test_an_event_past_the_limit_is_a_typed_error_with_the_partial_answer(
    harness: Harness, server: LoopbackServer, mode: str
) -> None:
    body = harness.reply("text").body
    events = [event for event in body.split(b"\n\n") if event.strip()]
    # After the first event that carries text, one event of 64 KiB without an end.
    first_text = next(index for index, event in enumerate(events) if b"Try" in event)
    huge = b"data: " + b"x" * 65536
    server.queue(Reply(b"\n\n".join([*events[: first_text + 1], huge]) + b"\n\n", chunked=True))

    class Limited(harness.prompt_class()):  # type: ignore[misc,valid-type]
        max_event_bytes = 4096

    chunks, _, error = consume(Limited(ingredient="apples"), mode)
    assert isinstance(error, MalformedStreamError), error
    assert "4096" in str(error)
    assert error.response is not None and error.response.interrupted
    assert error.response.text == "".join(chunk.content for chunk in chunks)
    assert FULL_TEXT.startswith(error.response.text) and error.response.text


def test_the_default_limit_is_16_mib() -> None:
    from mirastream import BasePrompt

    assert BasePrompt.max_event_bytes == 16 * 1024 * 1024
