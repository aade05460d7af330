"""Streams recorded from live services: mirastream agrees with the raw `openai` SDK on the same bytes.

The recordings and their provenance are in `tests/transcripts/openai/recorded/`. Each is
served by the loopback server and read twice: by the `openai` SDK on its own (the
reference), and by mirastream, sync and async, as recorded, in 7-byte writes, and with CRLF
line endings. Chunk by chunk, the text and reasoning must be what the SDK's chunks hold;
at the end, the tool calls, finish reason, usage, id and model too; and mirastream raises
exactly when the SDK raises. Each recording's values are also stated here, so that a
mistake shared by both readings would still fail.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import openai
import pytest

from mirastream import Response
from mirastream.errors import BadRequestError, MirastreamError, ProviderError
from mirastream.openai import OpenAIResponseChunk

from ..loopback import LoopbackServer, Reply, transcript
from ..reading import consume
from .test_stream import RecipeRecommender


@dataclass(frozen=True)
class Recording:
    """What a recording holds, read off its bytes by hand."""

    text_start: str
    thinking_start: str
    finish_reason: str | None
    usage: tuple[int, int, int, int | None] | None  # input, output, total, reasoning
    id: str | None
    model: str
    tool_calls: tuple[tuple[str, dict[str, Any]], ...] = ()
    error: type[MirastreamError] | None = None
    status_code: int | None = None


RECORDINGS = {
    "openai_text": Recording(
        "The capital of the UK is London.",
        "",
        "stop",
        (78, 9, 87, 0),
        "chatcmpl-Dx0Xq5Xx9rHB2ehcHZCRDsnuymUXc",
        "gpt-4o-mini-2024-07-18",
    ),
    "openai_tool_call": Recording(
        "",
        "",
        "tool_calls",
        (53, 15, 68, 0),
        "chatcmpl-Dx0XpqH8w09uBXwq1zFGYdETjtnEl",
        "gpt-4o-mini-2024-07-18",
        tool_calls=(("get_capital", {"country": "UK"}),),
    ),
    "mistral_thinking_parts": Recording(
        "To cross the street safely, follow these steps:",
        "Okay, the user is asking how to cross the street.",
        "stop",
        (10, 232, 242, None),
        "9f9d90210f194076abeee223863eaaf0",
        "magistral-medium-latest",
    ),
    "deepseek_reasoning_content": Recording(
        "Hello there! 😊 How can I help you today?",
        'Hmm, the user just said "Hello".',
        "stop",
        (6, 212, 218, 198),
        "33be18fc-3842-486c-8c29-dd8e578f7f20",
        "deepseek-reasoner",
    ),
    "openrouter_reasoning_details": Recording(
        "2 + 2 = 4",
        "This is a simple arithmetic question. 2+2 equals 4.",
        "stop",
        (43, 36, 79, 13),
        "gen-1765226419-AGrwjunAftQIAgweibL8",
        "anthropic/claude-sonnet-4.5",
    ),
    "openrouter_error_code": Recording(
        "",
        "We need to respond to a greeting. The user",
        "length",
        None,
        "gen-1762179802-UN8pkJI4AGZvryk0kFnb",
        "minimax/minimax-m2:free",
        error=BadRequestError,
        status_code=400,
    ),
    "snowflake_no_id_no_finish": Recording(
        "15 \u00d7 27 = **405**",  # a multiplication sign
        "15 * 27 = 405",
        None,
        (45, 73, 118, 0),
        None,
        "claude-sonnet-4-6",
    ),
}

VARIANTS = ["recorded", "7-byte writes", "CRLF", "CRLF in 7-byte writes"]
MODES = ["sync", "async"]


def body_and_options(name: str, variant: str) -> tuple[bytes, dict[str, Any]]:
    body = transcript(f"openai/recorded/{name}.sse")
    if "CRLF" in variant:
        assert b"\r" not in body  # JSON escapes its newlines: every LF in the body ends a line
        body = body.replace(b"\n", b"\r\n")
    return body, {"piece_size": 7} if "7-byte" in variant else {}


def thinking_of_parts(content: list[Any]) -> str:
    """The text of `thinking` parts of a list `content`, as the SDK hands it over."""
    texts: list[str] = []
    for part in content:
        if part.get("type") != "thinking":
            continue
        inner = part.get("thinking")
        if isinstance(inner, list):
            texts.extend(piece.get("text") or "" for piece in inner)
        else:
            texts.append(inner or "")
    return "".join(texts)


@dataclass
class Reference:
    """What the SDK's own chunks say, per chunk and in total (first choice)."""

    pieces: list[tuple[str, str]] = field(default_factory=list)  # (text, reasoning) per chunk
    calls: dict[int, list[Any]] = field(default_factory=dict)  # index: [name, arguments]
    finish_reason: str | None = None
    usage: Any = None
    id: str | None = None
    model: str | None = None
    error: openai.APIError | None = None


def read_with_the_sdk(server: LoopbackServer, body: bytes, options: dict[str, Any]) -> Reference:
    server.queue(Reply.transcript(body, **options))
    reference = Reference()
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key="sk-test-key", max_retries=0) as client:
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}], stream=True
        )
        try:
            for chunk in stream:
                reference.id = reference.id or chunk.id or None
                reference.model = reference.model or chunk.model or None
                reference.usage = chunk.usage or reference.usage
                text = reasoning = ""
                for choice in chunk.choices:
                    if choice.index != 0:
                        continue
                    delta = choice.delta
                    content: Any = delta.content
                    extra = delta.model_extra or {}
                    if isinstance(content, list):
                        text = "".join(p.get("text") or "" for p in content if p.get("type") == "text")
                        reasoning = thinking_of_parts(content)
                    else:
                        text = content or ""
                    reasoning += (
                        extra.get("reasoning_content")
                        or extra.get("reasoning")
                        or "".join(
                            d.get("text") or ""
                            for d in extra.get("reasoning_details") or []
                            if d.get("type") == "reasoning.text"
                        )
                    )
                    for call in delta.tool_calls or []:
                        entry = reference.calls.setdefault(call.index, [None, ""])
                        function = call.function
                        if function is not None:
                            entry[0] = entry[0] or function.name
                            entry[1] += function.arguments or ""
                    reference.finish_reason = choice.finish_reason or reference.finish_reason
                reference.pieces.append((text, reasoning))
        except openai.APIError as error:
            reference.error = error
    return reference


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", sorted(RECORDINGS))
def test_a_recording_reads_as_the_sdk_reads_it(
    server: LoopbackServer, name: str, variant: str, mode: str
) -> None:
    body, options = body_and_options(name, variant)
    reference = read_with_the_sdk(server, body, options)
    server.queue(Reply.transcript(body, **options))
    chunks, response, error = consume(RecipeRecommender(ingredient="apples"), mode)
    assert len(server.requests) == 2  # one each: an in-stream error after a chunk is never retried

    expected = RECORDINGS[name]
    check_chunks(chunks, reference)
    check_response(response, reference, expected)
    if reference.error is None:
        assert error is None and expected.error is None
        assert not response.interrupted
    else:
        assert isinstance(error, ProviderError) and type(error) is expected.error
        assert error.status_code == expected.status_code
        assert error.message.endswith(reference.error.message)
        assert error.response is not None and error.response.interrupted
        assert error.response.thinking == response.thinking


def check_chunks(chunks: list[OpenAIResponseChunk], reference: Reference) -> None:
    assert [(chunk.content, chunk.thinking) for chunk in chunks] == reference.pieces
    assert all(type(chunk.content) is str and type(chunk.thinking) is str for chunk in chunks)


def check_response(response: Response, reference: Reference, expected: Recording) -> None:
    assert response.text == "".join(text for text, _ in reference.pieces)
    assert response.text.startswith(expected.text_start)
    assert response.thinking == "".join(reasoning for _, reasoning in reference.pieces)
    assert response.thinking.startswith(expected.thinking_start)
    calls = [(call.name, call.arguments) for call in response.tool_calls]
    assert calls == [(name, json.loads(arguments)) for name, arguments in reference.calls.values()]
    assert calls == list(expected.tool_calls)
    assert response.finish_reason == reference.finish_reason == expected.finish_reason
    assert (response.id, response.model) == (reference.id, reference.model) == (expected.id, expected.model)
    usage = response.usage
    if expected.usage is None:
        assert usage is None and reference.usage is None
        return
    assert usage is not None and reference.usage is not None
    assert (
        usage.input_tokens,
        usage.output_tokens,
        usage.total_tokens,
        usage.reasoning_tokens,
    ) == expected.usage
    assert usage.input_tokens == reference.usage.prompt_tokens
    details = reference.usage.completion_tokens_details
    reasoning = details.reasoning_tokens if details is not None else None
    assert usage.reasoning_tokens == reasoning
    assert (
        usage.output_tokens == reference.usage.completion_tokens
    )  # reasoning counted inside by all of these
