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
- OpenAI Responses (``POST /v1/responses``): `response.created`, `response.in_progress`
  (the whole response object), `response.output_item.added`, `response.content_part.added`,
  one `response.output_text.delta` per piece (with `logprobs` and an `obfuscation` pad),
  `response.output_text.done`, `response.content_part.done`, `response.output_item.done`
  (each repeating the whole text), `response.completed` with the usage.

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
    "openai_responses_events",
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


def _responses_object(stream_id: str, status: str, output: list[Any], usage: Any) -> dict[str, Any]:
    """The whole `response` object of a Responses stream's lifecycle events."""
    return {
        "id": f"resp_{stream_id}",
        "object": "response",
        "created_at": 1767225600,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "max_tool_calls": None,
        "model": "gpt-5-mini-2025-08-07",
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "prompt_cache_key": None,
        "reasoning": {"effort": "minimal", "summary": None},
        "safety_identifier": None,
        "service_tier": "default",
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_logprobs": 0,
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage,
        "user": None,
        "metadata": {},
    }


def _responses_event(kind: str, fields: dict[str, Any], number: int) -> bytes:
    payload = {"type": kind, **fields, "sequence_number": number}
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n"


def openai_responses_events(pieces: Sequence[str], stream_id: str, usage: tuple[int, int]) -> Iterator[bytes]:
    """A Responses stream: created, in progress, item and part added, one delta per piece, done events."""
    prompt, completion = usage
    item_id = f"msg_{stream_id}"
    text = "".join(pieces)
    part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
    item = {"id": item_id, "type": "message", "status": "in_progress", "content": [], "role": "assistant"}
    where = {"item_id": item_id, "output_index": 0, "content_index": 0}
    started = _responses_object(stream_id, "in_progress", [], None)
    yield _responses_event("response.created", {"response": started}, 0)
    yield _responses_event("response.in_progress", {"response": started}, 1)
    yield _responses_event("response.output_item.added", {"output_index": 0, "item": item}, 2)
    yield _responses_event("response.content_part.added", {**where, "part": part}, 3)
    # The deltas as the live API sends them (`tests/transcripts/openai_responses/recorded/`):
    # `sequence_number` first, then the place, the text, `logprobs` and the `obfuscation` pad.
    head = b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":'
    place = b',"item_id":"%s","output_index":0,"content_index":0,"delta":' % item_id.encode()
    for number, piece in enumerate(pieces, start=4):
        pad = b"o6siFnnjPfOpqXVA"[: max(1, 16 - len(piece))]  # the pad evens out event sizes
        yield head + b"%d" % number + place + _text(piece) + b',"logprobs":[],"obfuscation":"%s"}\n\n' % pad
    number = 4 + len(pieces)
    yield _responses_event("response.output_text.done", {**where, "text": text, "logprobs": []}, number)
    done_part = {**part, "text": text}
    yield _responses_event("response.content_part.done", {**where, "part": done_part}, number + 1)
    done_item = {**item, "status": "completed", "content": [done_part]}
    yield _responses_event("response.output_item.done", {"output_index": 0, "item": done_item}, number + 2)
    counts = {
        "input_tokens": prompt,
        "input_tokens_details": {"cache_write_tokens": 0, "cached_tokens": 0},  # as today's SDK declares
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + completion,
    }
    finished = _responses_object(stream_id, "completed", [done_item], counts)
    yield _responses_event("response.completed", {"response": finished}, number + 3)


WIRE_FORMATS: dict[str, EventsFor] = {
    "openai": openai_events,
    "anthropic": anthropic_events,
    "gemini": gemini_events,
    "openai_responses": openai_responses_events,
}
"""The event generator of each provider."""


def first_content_event(provider: str) -> int:
    """The index of the event that carries a stream's first piece of text."""
    return {"openai": 1, "anthropic": 3, "gemini": 0, "openai_responses": 4}[provider]


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
