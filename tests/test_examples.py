"""The examples run as a user would run them, against the loopback server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .loopback import LoopbackServer, Reply

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _run(
    script: str, env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "ANTHROPIC_", "GEMINI_", "GOOGLE_"))
    }
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        env={**clean, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
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


def test_function_tool_example_runs_the_tool_and_answers(server: LoopbackServer) -> None:
    server.queue(Reply.sse("tools/openai_weather.sse"), Reply.sse("tools/openai_weather_final.sse"))
    result = _run(
        "function_tool.py", {"OPENAI_BASE_URL": f"{server.url}/v1"}, "Weather?", "--model", "qwen2.5"
    )
    assert result.returncode == 0, result.stderr
    assert "[get_weather({'city': 'Paris', 'unit': 'celsius'}) -> " in result.stdout
    assert result.stdout.rstrip().endswith("It is 21 C in Paris.")
    (tool_message,) = [m for m in server.requests[1].json()["messages"] if m["role"] == "tool"]
    assert '"temperature": 21' in tool_message["content"]


def test_code_interpreter_example_streams_code_output_and_answer(server: LoopbackServer) -> None:
    server.queue(Reply.sse("tools/openai_execute.sse"), Reply.sse("tools/openai_final.sse"))
    result = _run("code_interpreter.py", {"OPENAI_BASE_URL": f"{server.url}/v1"}, "34/24?")
    assert result.returncode == 0, result.stderr
    assert '```python\nx = 34 / 24\nprint("ratio:", round(x, 3))\nx\n```' in result.stdout
    assert "ratio: 1.417\n1.4166666666666667\n" in result.stdout
    assert result.stdout.rstrip().endswith("34 / 24 is about 1.417.")


def test_lmc_export_example_prints_lmc_json_lines(server: LoopbackServer) -> None:
    import json

    server.queue(Reply.sse("tools/openai_execute.sse"), Reply.sse("tools/openai_final.sse"))
    result = _run("lmc_export.py", {"OPENAI_BASE_URL": f"{server.url}/v1"})
    assert result.returncode == 0, result.stderr
    messages = [json.loads(line) for line in result.stdout.splitlines()]
    assert {
        "role": "computer",
        "type": "console",
        "format": "output",
        "content": "ratio: 1.417\n",
    } in messages
    assert any(message["type"] == "confirmation" for message in messages)


def test_confirm_example_reports_a_no_to_the_model(server: LoopbackServer) -> None:
    server.queue(Reply.sse("tools/openai_shell.sse"), Reply.sse("tools/openai_final.sse"))
    result = _run("confirm_before_running.py", {"OPENAI_BASE_URL": f"{server.url}/v1"}, stdin="n\n")
    assert result.returncode == 0, result.stderr
    assert "Run this shell code? [y/N]" in result.stdout
    assert "\n-end\n" not in result.stdout  # the code never ran (its output would be "-end")
    assert "declined" in server.requests[1].body.decode()
