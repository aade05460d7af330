"""`examples/anthropic_stream.py` runs as a user would run it, against the loopback server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ..loopback import LoopbackServer, Reply

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "anthropic_stream.py"


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "ANTHROPIC_", "GEMINI_", "GOOGLE_"))
    }
    return subprocess.run(
        [sys.executable, str(EXAMPLE), *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_example_streams_from_a_messages_api_server(server: LoopbackServer) -> None:
    server.queue(Reply.sse("anthropic/text.sse"))
    result = _run({"ANTHROPIC_BASE_URL": server.url}, "pears", "--model", "local")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Try apple crumble, apple pie and baked apples.")
    assert "[claude-sonnet-4-6] finish: stop" in result.stdout
    assert "total_tokens=34" in result.stdout
    body = server.last_request.json()
    assert body["model"] == "local"
    assert "pears" in body["messages"][0]["content"]
    assert body["system"] == "You are a chef who answers briefly."


def test_example_prints_thinking_apart_from_the_answer(server: LoopbackServer) -> None:
    server.queue(Reply.sse("anthropic/thinking.sse"))
    result = _run({"ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": "sk-ant-x"}, "--thinking", "2048")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Apple pie.")
    assert "Apples are sweet." in result.stderr and "Apples are sweet." not in result.stdout
    body = server.last_request.json()
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["max_tokens"] == 3072


def test_example_says_what_to_set_when_nothing_is_configured() -> None:
    result = _run({})
    assert result.returncode == 2
    assert "ANTHROPIC_API_KEY" in result.stderr and "ANTHROPIC_BASE_URL" in result.stderr
