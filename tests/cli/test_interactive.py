"""Interactive mode: messages are read one per line, and each turn sees the conversation so far."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from ..loopback import LoopbackServer, Reply
from .conftest import Run


def openai_roles(server: LoopbackServer, request: int) -> list[tuple[str, str]]:
    return [(m["role"], m.get("content") or "") for m in server.requests[request].json()["messages"]]


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_the_second_turn_sends_the_first_with_its_code_and_output(
    provider: str, chat: Callable[..., Run], connect: Callable[[str], None], server: LoopbackServer
) -> None:
    connect(provider)
    server.queue(
        Reply.sse(f"tools/{provider}_execute.sse"),
        Reply.sse(f"tools/{provider}_final.sse"),
        Reply.sse(f"{provider}/text.sse"),
    )
    run = chat("chat", stdin="What is 34/24?\ny\nAnd some recipes?\n")
    assert run.status == 0, run.err
    assert "34 / 24 is about 1.417." in run.out
    assert run.out.rstrip().endswith("Try apple crumble, apple pie and baked apples.")
    assert len(server.requests) == 3
    body = server.requests[2].body.decode()
    # The whole first turn is sent again, in the provider's own format.
    for text in (
        "What is 34/24?",
        "Let me compute.",
        "ratio: 1.417",
        "34 / 24 is about 1.417.",
        "And some recipes?",
    ):
        assert text in body
    if provider == "openai":
        roles = [role for role, _ in openai_roles(server, 2)]
        assert roles == ["system", "user", "assistant", "tool", "assistant", "user"]
    if provider == "gemini":  # the call's thought signature goes back with it
        assert "CiQBjz1rX2V4ZWN1dGUtc2lnbmF0dXJl" in body


def test_reset_forgets_the_conversation(
    chat: Callable[..., Run], connect: Callable[[str], None], server: LoopbackServer
) -> None:
    connect("openai")
    server.queue(Reply.sse("openai/text.sse"), Reply.sse("openai/text.sse"), Reply.sse("openai/text.sse"))
    run = chat("chat", "--no-tools", stdin="first\nsecond\n/reset\nthird\n/exit\nnever sent\n")
    assert run.status == 0, run.err
    assert len(server.requests) == 3
    assert [role for role, _ in openai_roles(server, 1)] == ["system", "user", "assistant", "user"]
    assert openai_roles(server, 2) == [openai_roles(server, 2)[0], ("user", "third")]
    assert "forgotten" in run.err


def test_a_message_and_interactive_keeps_chatting(
    chat: Callable[..., Run], connect: Callable[[str], None], server: LoopbackServer
) -> None:
    connect("openai")
    server.queue(Reply.sse("openai/text.sse"), Reply.sse("openai/text.sse"))
    run = chat("chat", "first", "-i", "--no-tools", stdin="second\n")
    assert run.status == 0, run.err
    assert openai_roles(server, 1)[1:] == [
        ("user", "first"),
        ("assistant", "Try apple crumble, apple pie and baked apples."),
        ("user", "second"),
    ]


def test_a_provider_error_does_not_end_the_chat(
    chat: Callable[..., Run], connect: Callable[[str], None], server: LoopbackServer
) -> None:
    connect("openai")
    server.queue(
        Reply.error(
            400, {"error": {"message": "This model does not exist", "type": "invalid_request_error"}}
        ),
        Reply.sse("openai/text.sse"),
    )
    run = chat("chat", "--no-tools", stdin="first\nsecond\n")
    assert run.status == 0
    assert "This model does not exist" in run.err
    assert run.out.strip().endswith("baked apples.")
    assert [role for role, _ in openai_roles(server, 1)] == ["system", "user"]  # the failed turn is not kept


def test_the_system_prompt_can_be_replaced_or_left_out(
    chat: Callable[..., Run], connect: Callable[[str], None], server: LoopbackServer
) -> None:
    connect("openai")
    server.queue(Reply.sse("openai/text.sse"), Reply.sse("openai/text.sse"))
    assert chat("chat", "hi", "--system", "Be a pirate.").status == 0
    assert server.requests[0].json()["messages"][0] == {"role": "system", "content": "Be a pirate."}
    assert chat("chat", "hi", "--system", "").status == 0
    assert [m["role"] for m in server.requests[1].json()["messages"]] == ["user"]
    tools = server.requests[0].json()["tools"]
    assert json.dumps(tools).count('"execute"') == 1
