"""Responses API streams: mirastream agrees with the raw `openai` SDK on the same bytes.

Each transcript (recorded from the live API by another project, or reconstructed from the API
reference; provenance in `tests/transcripts/openai_responses/`) is served by the loopback
server and read by the SDK's own `responses.create(stream=True)` (the reference) and by
mirastream, sync and async: as written, in 7-byte writes, and with CRLF line endings. The
text, reasoning, tool calls, usage, id and model must be what the SDK's events hold, and
mirastream raises exactly when the SDK raises or the response failed. The recordings' values
are also stated here, so that a mistake shared by both readings would still fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import openai
import pytest

from mirastream import Response
from mirastream.errors import MirastreamError, ProviderError

from ..loopback import TRANSCRIPTS, LoopbackServer, Reply
from ..reading import MODES, consume
from .test_responses import Chef

NAMES = sorted(
    str(path.relative_to(TRANSCRIPTS / "openai_responses"))
    for path in (TRANSCRIPTS / "openai_responses").rglob("*.sse")
)
VARIANTS = ["as_written", "7_byte_writes", "crlf"]


@dataclass(frozen=True)
class Recording:
    """What a recording holds, read off its bytes by hand."""

    text_start: str
    thinking_start: str
    calls: tuple[tuple[str, dict[str, Any]], ...]
    usage: tuple[int, int, int, int, int] | None  # input, output, total, cached, reasoning
    model: str
    error: type[MirastreamError] | None = None


RECORDINGS = {
    "recorded/calculator_turn1.sse": Recording(
        "",
        "**Calculating step-by-step using calculator**\n\nI'll compute 12 plus 7",
        (("calculator", {"a": 12, "b": 7, "op": "add"}),),
        (134, 28, 162, 0, 0),
        "gpt-5.1-codex-max",
    ),
    "recorded/calculator_turn4.sse": Recording(
        "The final result is **570**.", "", (), (299, 12, 311, 0, 0), "gpt-5.1-codex-max"
    ),
    "recorded/web_search.sse": Recording(
        "I checked today\u2019s tech headlines",
        "",
        (),
        (31073, 4416, 35489, 3712, 3712),
        "gpt-5-mini-2025-08-07",
    ),
    "recorded/code_interpreter.sse": Recording(
        "Here\u2019s a simulation of rolling two fair",
        "",
        (),
        (6047, 1623, 7670, 2944, 1408),
        "gpt-5-nano-2025-08-07",
    ),
    "recorded/phase.sse": Recording("Got it", "", (), (7112, 463, 7575, 3072, 64), "gpt-5.3-codex"),
    "recorded/error_quota.sse": Recording("", "", (), None, "gpt-5-nano-2025-08-07", ProviderError),
}


@dataclass
class Reference:
    """What the SDK's own events say."""

    text: str = ""
    thinking: str = ""
    calls: list[tuple[str, str, str]] | None = None
    usage: tuple[int, int, int, int, int] | None = None
    id: str | None = None
    model: str | None = None
    raised: bool = False
    failed: bool = False
    finished: bool = False


def sdk_reading(body: bytes, server: LoopbackServer) -> Reference:
    """Read `body` with the SDK alone (thinking parts set apart by a blank line, as mirastream does)."""
    server.queue(Reply(body))
    reference = Reference(calls=[])
    assert reference.calls is not None
    with openai.OpenAI(base_url=server.base_url("openai"), api_key="sk-test", max_retries=0) as client:
        try:
            with client.responses.create(model="gpt-5-mini", input="hi", stream=True) as events:
                for event in events:
                    if event.type == "response.output_text.delta":
                        reference.text += event.delta
                    elif event.type == "response.reasoning_summary_part.added" and reference.thinking:
                        reference.thinking += "\n\n"
                    elif event.type in (
                        "response.reasoning_summary_text.delta",
                        "response.reasoning_text.delta",
                    ):
                        reference.thinking += event.delta
                    elif event.type == "response.output_item.done" and event.item.type == "function_call":
                        reference.calls.append((event.item.call_id, event.item.name, event.item.arguments))
                    elif event.type == "response.created":
                        reference.id, reference.model = event.response.id, event.response.model
                    elif event.type in ("response.completed", "response.incomplete", "response.failed"):
                        reference.failed = event.type == "response.failed"
                        reference.finished = not reference.failed
                        usage = event.response.usage
                        if usage is not None:
                            reference.usage = (
                                usage.input_tokens,
                                usage.output_tokens,
                                usage.total_tokens,
                                usage.input_tokens_details.cached_tokens,
                                usage.output_tokens_details.reasoning_tokens,
                            )
        except openai.APIError:
            reference.raised = True
        finally:
            client.close()
        return reference


def served(name: str, variant: str) -> tuple[bytes, Reply]:
    body = (TRANSCRIPTS / "openai_responses" / name).read_bytes()
    if variant == "crlf":
        body = body.replace(b"\n", b"\r\n")
    return body, Reply(body, piece_size=7 if variant == "7_byte_writes" else None)


def usage_of(response: Response) -> tuple[int, int, int, int, int] | None:
    usage = response.usage
    if usage is None:
        return None
    return (
        usage.input_tokens,
        usage.output_tokens,
        usage.total_tokens,
        usage.cached_input_tokens or 0,
        usage.reasoning_tokens or 0,
    )


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", NAMES)
def test_mirastream_reads_what_the_sdk_reads(
    server: LoopbackServer, name: str, mode: str, variant: str
) -> None:
    body, reply = served(name, variant)
    reference = sdk_reading(body, server)
    server.queue(reply)
    chunks, stream_response, error = consume(Chef(ingredient="apples"), mode)
    failure = error if isinstance(error, MirastreamError) else None
    response = failure.response if failure is not None and failure.response is not None else stream_response

    assert (error is not None) == (reference.raised or reference.failed or not reference.finished), error
    assert response.text == reference.text == "".join(chunk.content for chunk in chunks)
    assert response.thinking == reference.thinking == "".join(chunk.thinking for chunk in chunks)
    assert [(call.id, call.name, call.raw_arguments) for call in response.tool_calls] == reference.calls
    assert (response.id, response.model) == (reference.id, reference.model)
    if reference.finished:
        assert usage_of(response) == reference.usage
    assert all(chunk.chunk.type == chunk.event_type for chunk in chunks)  # the SDK's own event


@pytest.mark.parametrize("name", sorted(RECORDINGS))
def test_the_recordings_hold_what_they_were_read_to_hold(server: LoopbackServer, name: str) -> None:
    expected = RECORDINGS[name]
    server.queue(Reply.sse(f"openai_responses/{name}"))
    _, stream_response, error = consume(Chef(ingredient="apples"), "sync")
    if expected.error is not None:
        assert type(error) is expected.error, error
        assert error.response is not None and len(server.requests) == 1  # not retried
        response = error.response
    else:
        assert error is None, error
        response = stream_response
    assert response.text.startswith(expected.text_start)
    assert response.thinking.startswith(expected.thinking_start)
    assert [(call.name, call.arguments) for call in response.tool_calls] == list(expected.calls)
    assert usage_of(response) == expected.usage and response.model == expected.model


def test_a_recorded_tool_loop_replays_turn_by_turn(server: LoopbackServer) -> None:
    """The four recorded turns of a calculator loop, answered by a local calculator."""
    from mirastream.openai import OpenAIResponsesCallParams

    def calculator(a: int, b: int, op: str) -> int:
        """Apply `op` ("add" or "multiply") to a and b."""
        return a + b if op == "add" else a * b

    class Steps(Chef):
        call_params = OpenAIResponsesCallParams(model="gpt-5.1-codex-max", tools=[calculator])

    server.queue(*[Reply.sse(f"openai_responses/recorded/calculator_turn{turn}.sse") for turn in range(1, 5)])
    response = Steps(ingredient="apples").stream().collect()
    assert response.text == "The final result is **570**." and len(response.steps) == 4
    outputs = [step.results[0].output for step in response.steps[:3]]
    assert outputs == ["19", "57", "570"]
    last_input = server.requests[3].json()["input"]
    answered = [item["call_id"] for item in last_input if item.get("type") == "function_call_output"]
    called = [item["call_id"] for item in last_input if item.get("type") == "function_call"]
    assert answered == called and len(called) == 3
