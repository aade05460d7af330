"""Streams recorded from the live Messages API: mirastream agrees with the official SDK.

Each recording (tests/transcripts/recorded, provenance in its README) is replayed through
the real `anthropic` SDK over the loopback server, as recorded, in 7-byte writes, with CRLF
line ends and without the blank line that ends its last event; mirastream's chunks and
response must say what the SDK's own `messages.stream()` accumulates from the same bytes.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest

from mirastream import Response
from mirastream.anthropic import AnthropicCallParams, AnthropicPrompt
from mirastream.testing import Reply

from ..loopback import TRANSCRIPTS, LoopbackServer
from ..reading import MODES, consume

RECORDINGS = [
    "anthropic_text.sse",
    "anthropic_thinking.sse",
    "anthropic_thinking_padded.sse",
    "anthropic_redacted_thinking.sse",
    "anthropic_tool_no_args.sse",
    "anthropic_tool_json.sse",
]
VARIANTS = ["as_recorded", "7_byte_writes", "crlf", "no_final_blank_line"]


class Question(AnthropicPrompt):
    prompt_template = "USER: {question}"
    question: str
    call_params = AnthropicCallParams(model="claude-sonnet-4-5", max_tokens=4096)


def reply(name: str, variant: str) -> Reply:
    body = (TRANSCRIPTS / "recorded" / name).read_bytes()
    if variant == "7_byte_writes":
        return Reply.transcript(body, piece_size=7)
    if variant == "crlf":
        return Reply.transcript(body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    if variant == "no_final_blank_line":
        return Reply.transcript(body.rstrip(b"\r\n"))
    return Reply.transcript(body)


def sdk_message(server: LoopbackServer, name: str, variant: str) -> Any:
    """What the official SDK accumulates from the same bytes."""
    server.queue(reply(name, variant))
    with (
        anthropic.Anthropic(base_url=server.url, api_key="sk-ant-test-key", max_retries=0) as client,
        client.messages.stream(
            model="claude-sonnet-4-5", max_tokens=4096, messages=[{"role": "user", "content": "Hi"}]
        ) as stream,
    ):
        return stream.get_final_message()


def expected(message: Any) -> dict[str, Any]:
    blocks = message.content
    usage = message.usage
    return {
        "id": message.id,
        "model": message.model,
        "text": "".join(block.text for block in blocks if block.type == "text"),
        "thinking": "".join(block.thinking for block in blocks if block.type == "thinking"),
        "thinking_blocks": [
            (
                block.type,
                getattr(block, "thinking", ""),
                getattr(block, "signature", ""),
                getattr(block, "data", ""),
            )
            for block in blocks
            if block.type in ("thinking", "redacted_thinking")
        ],
        "tool_calls": [(block.id, block.name, block.input) for block in blocks if block.type == "tool_use"],
        "raw_finish_reason": message.stop_reason,
        "input_tokens": usage.input_tokens
        + (usage.cache_read_input_tokens or 0)
        + (usage.cache_creation_input_tokens or 0),
        "output_tokens": usage.output_tokens,
    }


def actual(response: Response) -> dict[str, Any]:
    assert response.usage is not None
    return {
        "id": response.id,
        "model": response.model,
        "text": response.text,
        "thinking": response.thinking,
        "thinking_blocks": [
            (block.type, block.thinking, block.signature, block.data)
            for block in response.choice.thinking_blocks
        ],
        "tool_calls": [(call.id, call.name, call.arguments) for call in response.tool_calls],
        "raw_finish_reason": response.choice.raw_finish_reason,
        "input_tokens": response.usage.input_tokens,
        "output_tokens": response.usage.output_tokens,
    }


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", RECORDINGS)
def test_mirastream_agrees_with_the_sdk(server: LoopbackServer, name: str, variant: str, mode: str) -> None:
    reference = expected(sdk_message(server, name, variant))
    server.queue(reply(name, variant))
    chunks, response, error = consume(Question(question="Hi"), mode)

    assert error is None
    assert actual(response) == reference
    assert "".join(chunk.content for chunk in chunks) == reference["text"]
    assert "".join(chunk.thinking for chunk in chunks) == reference["thinking"]
    streamed: dict[int, str] = {}
    for chunk in chunks:
        for piece in chunk.tool_calls:
            streamed[piece.index] = streamed.get(piece.index, "") + piece.arguments
    assert [json.loads(text or "{}") for _, text in sorted(streamed.items())] == [
        call[2] for call in reference["tool_calls"]
    ]
    assert [chunk.finish_reason for chunk in chunks if chunk.finish_reason] == [response.finish_reason]
    assert all(chunk.id == reference["id"] and chunk.model == reference["model"] for chunk in chunks)
    server.check()
