"""The providers' streaming wire formats, generated: OpenAI, Anthropic and Gemini SSE events.

Each generator takes the text pieces of one answer (one piece per content chunk) and yields
the bytes of every SSE event, in the shape the real APIs send today (the same fields as
the recorded transcripts in `tests/transcripts/`):

- OpenAI Chat Completions: a role chunk (empty content), one chunk per piece, a finish
  chunk, a usage chunk (`stream_options.include_usage`), ``data: [DONE]``; every chunk
  carries `service_tier`, `system_fingerprint`, `"usage":null` and an `obfuscation` pad.
- Anthropic Messages: `message_start` (full usage object), `content_block_start`, a
  `ping`, one `content_block_delta` per piece, `content_block_stop`, `message_delta`
  (stop reason and output tokens), `message_stop`.
- Gemini `streamGenerateContent?alt=sse`: one `GenerateContentResponse` per piece with
  the running `usageMetadata`; the last one has `finishReason` and the output count.

`bench_piece` gives realistic pieces of 1-3 tokens (words, punctuation, some non-ASCII
and newlines); `first_content_event` says which event carries the first piece.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

__all__ = [
    "WIRE_FORMATS",
    "anthropic_events",
    "bench_piece",
    "bench_text",
    "first_content_event",
    "gemini_events",
    "openai_events",
    "openai_tool_call_events",
    "tool_call_pieces",
]

# One sentence in pieces of 1-3 tokens, as models stream them; it repeats.
_PIECES = (
    "The",
    " quick",
    " answer",
    " is",
    " yes",
    ":",
    " the",
    " café",
    "\u2019s",
    " menu",
    " changes",
    " daily",
    " —",
    " fresh",
    " bread",
    ",",
    " soup",
    " and",
    " a",
    " crème",
    " brûlée",
    ".",
    "\n\n",
    "Prices",
    " start",
    " at",
    " €",
    "4",
    ".50",
    " per",
    " dish",
    " (",
    "tax",
    " included",
    ").",
    " Order",
    " ahead",
    " online",
    "!",
    "\n",
)

EventsFor = Callable[[Sequence[str], str, tuple[int, int]], Iterator[bytes]]


def bench_piece(index: int) -> str:
    """The text of content chunk `index` of a benchmark stream."""
    return _PIECES[index % len(_PIECES)]


def bench_text(chunks: int) -> str:
    """The whole text of a benchmark stream of `chunks` content chunks."""
    return "".join(bench_piece(index) for index in range(chunks))


def _text(value: str) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def openai_events(pieces: Sequence[str], stream_id: str, usage: tuple[int, int]) -> Iterator[bytes]:
    """A Chat Completions stream: role chunk, one chunk per piece, finish, usage, `[DONE]`."""
    start = b'data: {"id":"chatcmpl-%s","object":"chat.completion.chunk","created":1763721600,' % (
        stream_id.encode()
    )
    start += b'"model":"gpt-4o-mini-2024-07-18","service_tier":"default",'
    start += b'"system_fingerprint":"fp_560af6e559",'
    head = start + b'"choices":[{"index":0,"delta":'
    tail = b',"logprobs":null}],"usage":null,"obfuscation":"%s"}\n\n'
    yield head + b'{"role":"assistant","content":"","refusal":null},"finish_reason":null' + tail % b"x4Tz"
    for piece in pieces:
        pad = b"Qm7kP2"[: max(1, 6 - len(piece))]  # the pad evens out chunk sizes, as OpenAI's does
        yield head + b'{"content":' + _text(piece) + b'},"finish_reason":null' + tail % pad
    yield head + b'{},"finish_reason":"stop"' + tail % b"aB"
    prompt, completion = usage
    counts = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    yield start + b'"choices":[],"usage":' + json.dumps(counts).encode() + b',"obfuscation":"Zq"}\n\n'
    yield b"data: [DONE]\n\n"


def anthropic_events(pieces: Sequence[str], stream_id: str, usage: tuple[int, int]) -> Iterator[bytes]:
    """A Messages stream: start, block start, ping, one delta per piece, block stop, delta, stop."""
    prompt, completion = usage
    message = {
        "type": "message_start",
        "message": {
            "model": "claude-sonnet-4-6",
            "id": f"msg_{stream_id}",
            "type": "message",
            "role": "assistant",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": prompt,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                "output_tokens": 1,
                "service_tier": "standard",
            },
        },
    }
    yield b"event: message_start\ndata: " + json.dumps(message, separators=(",", ":")).encode() + b"\n\n"
    yield (
        b"event: content_block_start\n"
        b'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'
    )
    yield b'event: ping\ndata: {"type": "ping"}\n\n'
    head = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    head += b'"delta":{"type":"text_delta","text":'
    for piece in pieces:
        yield head + _text(piece) + b"}}\n\n"
    yield b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": completion},
    }
    yield b"event: message_delta\ndata: " + json.dumps(delta, separators=(",", ":")).encode() + b"\n\n"
    yield b'event: message_stop\ndata: {"type":"message_stop"}\n\n'


def gemini_events(pieces: Sequence[str], stream_id: str, usage: tuple[int, int]) -> Iterator[bytes]:
    """A `streamGenerateContent?alt=sse` stream: one response per piece, the last one finished."""
    prompt, completion = usage
    details = [{"modality": "TEXT", "tokenCount": prompt}]
    last = len(pieces) - 1
    for index, piece in enumerate(pieces):
        candidate: dict[str, Any] = {"content": {"parts": [{"text": piece}], "role": "model"}}
        counts: dict[str, Any] = {"promptTokenCount": prompt, "totalTokenCount": prompt}
        if index == last:  # the last chunk says why it stopped and counts the output
            candidate["finishReason"] = "STOP"
            counts = {
                "promptTokenCount": prompt,
                "candidatesTokenCount": completion,
                "totalTokenCount": prompt + completion,
            }
        candidate["index"] = 0
        counts["promptTokensDetails"] = details
        payload = {
            "candidates": [candidate],
            "usageMetadata": counts,
            "modelVersion": "gemini-2.5-flash",
            "responseId": stream_id,
        }
        yield b"data: " + json.dumps(payload, ensure_ascii=False, separators=(",", ": ")).encode() + b"\n\n"


WIRE_FORMATS: dict[str, EventsFor] = {
    "openai": openai_events,
    "anthropic": anthropic_events,
    "gemini": gemini_events,
}
"""The event generator of each provider."""


def first_content_event(provider: str) -> int:
    """The index of the event that carries a stream's first piece of text."""
    return {"openai": 1, "anthropic": 3, "gemini": 0}[provider]


# The arguments of one `execute` call, in the pieces a model streams them in.
_TOOL_ARGUMENTS = '{"language": "python", "code": "import time\\nprint(\\"started\\", time.time())\\n6 * 7"}'


def tool_call_pieces() -> list[str]:
    """The arguments of the benchmark's `execute` call, cut into 24 pieces."""
    size = -(-len(_TOOL_ARGUMENTS) // 24)
    return [_TOOL_ARGUMENTS[start : start + size] for start in range(0, len(_TOOL_ARGUMENTS), size)]


def openai_tool_call_events(pieces: Sequence[str], stream_id: str) -> Iterator[bytes]:
    """A Chat Completions stream that calls the `execute` tool with `pieces` as its arguments."""
    head = b'data: {"id":"chatcmpl-%s","object":"chat.completion.chunk","created":1763722000,' % (
        stream_id.encode()
    )
    head += b'"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_07871e2ad8",'
    head += b'"choices":[{"index":0,"delta":'
    tail = b',"logprobs":null}],"usage":null}\n\n'
    yield head + b'{"role":"assistant","content":null,"refusal":null},"finish_reason":null' + tail
    call = {"index": 0, "id": "call_bench_1", "type": "function"}
    call["function"] = {"name": "execute", "arguments": ""}
    yield head + b'{"tool_calls":[' + json.dumps(call).encode() + b']},"finish_reason":null' + tail
    for piece in pieces:
        delta = {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
        yield head + json.dumps(delta).encode() + b',"finish_reason":null' + tail
    yield head + b'{},"finish_reason":"tool_calls"' + tail
    yield b"data: [DONE]\n\n"
