"""The examples run as a user would run them, against the loopback server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .loopback import LoopbackServer, Reply

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _run(script: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "ANTHROPIC_", "GEMINI_", "GOOGLE_"))
    }
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_quickstart_streams_from_a_compatible_server(server: LoopbackServer) -> None:
    server.queue(Reply.sse("openai/text.sse"))
    result = _run("openai_stream.py", {"OPENAI_BASE_URL": f"{server.url}/v1"}, "pears", "--model", "qwen2.5")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Try apple crumble, apple pie and baked apples.")
    assert "finish: stop" in result.stdout
    body = server.last_request.json()
    assert body["model"] == "qwen2.5"
    assert "pears" in body["messages"][1]["content"]


def test_quickstart_says_what_to_set_when_nothing_is_configured() -> None:
    result = _run("openai_stream.py", {})
    assert result.returncode == 2
    assert "OPENAI_API_KEY" in result.stderr and "OPENAI_BASE_URL" in result.stderr


def test_async_example_streams_two_answers_concurrently(server: LoopbackServer) -> None:
    server.queue(Reply.sse("openai/text.sse"), Reply.sse("openai/text.sse"))
    result = _run("openai_stream_async.py", {"OPENAI_BASE_URL": f"{server.url}/v1", "OPENAI_API_KEY": "sk-x"})
    assert result.returncode == 0, result.stderr
    assert "pears: Try apple crumble" in result.stdout
    assert "plums: Try apple crumble" in result.stdout
    assert len(server.requests) == 2
