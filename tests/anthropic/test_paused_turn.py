"""A turn the Messages API pauses (`pause_turn`, long server-tool work) is continued.

The paused turn goes back in the next request exactly as it came, block for block (its
`server_tool_use` and the tool's result included), and the model carries on from there.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from ..loopback import LoopbackServer, Reply
from ..tools.test_tool_loop import MODES, connect, prompt_class, run

__all__ = ["connect"]  # fixture

WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search"}


def event(payload: dict[str, Any]) -> str:
    return f"event: {payload['type']}\ndata: {json.dumps(payload)}\n\n"


def stream(*blocks: list[dict[str, Any]], stop_reason: str, message_id: str) -> bytes:
    events = [
        event(
            {
                "type": "message_start",
                "message": {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-sonnet-4-6",
                    "content": [],
                    "stop_reason": None,
                    "usage": {"input_tokens": 40, "output_tokens": 1},
                },
            }
        ),
    ]
    for index, pieces in enumerate(blocks):
        events.extend(event({**piece, "index": index}) for piece in pieces)
    events.append(
        event(
            {"type": "message_delta", "delta": {"stop_reason": stop_reason}, "usage": {"output_tokens": 20}}
        )
    )
    events.append(event({"type": "message_stop"}))
    return "".join(events).encode()


def text_block(*pieces: str) -> list[dict[str, Any]]:
    return [
        {"type": "content_block_start", "content_block": {"type": "text", "text": ""}},
        *(
            {"type": "content_block_delta", "delta": {"type": "text_delta", "text": piece}}
            for piece in pieces
        ),
        {"type": "content_block_stop"},
    ]


SEARCH = [
    {
        "type": "content_block_start",
        "content_block": {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
    },
    {"type": "content_block_delta", "delta": {"type": "input_json_delta", "partial_json": '{"query": '}},
    {"type": "content_block_delta", "delta": {"type": "input_json_delta", "partial_json": '"apple pie"}'}},
    {"type": "content_block_stop"},
]
RESULT = {
    "type": "web_search_tool_result",
    "tool_use_id": "srvtoolu_1",
    "content": [
        {
            "type": "web_search_result",
            "url": "https://example.com/pie",
            "title": "Pie",
            "encrypted_content": "abc",
            "page_age": None,
        }
    ],
}
SEARCH_RESULT = [{"type": "content_block_start", "content_block": RESULT}, {"type": "content_block_stop"}]

PAUSED = stream(
    text_block("Let me", " look."), SEARCH, SEARCH_RESULT, stop_reason="pause_turn", message_id="msg_paused"
)
CONTINUED = stream(text_block(" Apple pie", " it is."), stop_reason="end_turn", message_id="msg_done")


@pytest.mark.parametrize("mode", MODES)
def test_a_paused_turn_is_sent_back_as_it_came_and_continued(
    mode: str, server: LoopbackServer, connect: Any
) -> None:
    connect("anthropic")
    server.queue(Reply(PAUSED), Reply(CONTINUED))
    prompt = prompt_class("anthropic", [WEB_SEARCH])(question="What should I bake?")
    items, stream_ = run(lambda: prompt.stream() if mode == "sync" else prompt.stream_async(), mode)
    assert "".join(item.content for item in items) == "Let me look. Apple pie it is."
    response = stream_.response
    assert response.text == " Apple pie it is." and response.finish_reason == "stop"
    assert [step.response.finish_reason for step in response.steps] == ["paused", "stop"]
    assert response.usage is not None and response.usage.output_tokens == 40

    assert len(server.requests) == 2
    sent = server.requests[1].json()["messages"]
    assert sent[-1] == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Let me look."},
            {
                "type": "server_tool_use",
                "id": "srvtoolu_1",
                "name": "web_search",
                "input": {"query": "apple pie"},
            },
            RESULT,
        ],
    }


def test_paused_turns_count_against_max_steps(server: LoopbackServer, connect: Any) -> None:
    from mirastream.errors import MaxStepsReached

    connect("anthropic")
    server.queue(Reply(PAUSED), Reply(PAUSED))
    prompt = prompt_class("anthropic", [WEB_SEARCH], max_steps=2)(question="What should I bake?")
    with pytest.raises(MaxStepsReached) as raised:
        asyncio.run(_drain(prompt))
    assert raised.value.response is not None
    assert len(server.requests) == 2


async def _drain(prompt: Any) -> None:
    async with prompt.stream_async() as stream_:
        async for _ in stream_:
            pass
