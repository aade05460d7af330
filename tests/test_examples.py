"""The examples run as a user would run them, against the loopback server.

Each example runs in a subprocess, with a provider's base-URL variable pointing at the
server, which answers in that provider's own wire format (scripted turns or recorded
transcripts). Nothing here starts the local model: that path is covered by tests/local.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mirastream import Message
from mirastream.testing import Call, ErrorReply, Pause, Text, Thinking, Turn

from .loopback import LoopbackServer, Reply

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
TESTED_ELSEWHERE = {
    "testing_my_prompt.py": "tests/testing/test_docs.py",
    "local_stream.py": "tests/local/test_setup.py",
}
BASE_URL_VARIABLES = {
    "openai": "OPENAI_BASE_URL",
    "anthropic": "ANTHROPIC_BASE_URL",
    "gemini": "GOOGLE_GEMINI_BASE_URL",
}


def _environment(server: LoopbackServer | None, provider: str) -> dict[str, str]:
    """This process's environment without provider settings, then the server's base URL."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "ANTHROPIC_", "GEMINI_", "GOOGLE_"))
    }
    if server is not None:
        env[BASE_URL_VARIABLES[provider]] = server.base_url(provider)
    return env


def _run(
    script: str,
    server: LoopbackServer | None,
    *args: str,
    provider: str = "openai",
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        env=_environment(server, provider),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


# --- Streaming ---------------------------------------------------------------------------


def test_openai_stream_streams_from_a_compatible_server(server: LoopbackServer) -> None:
    server.queue(Reply.sse("openai/text.sse"))
    result = _run("openai_stream.py", server, "pears", "--model", "qwen2.5")
    out = _ok(result)
    assert out.startswith("Try apple crumble, apple pie and baked apples.")
    assert "finish: stop" in out
    assert "Using OpenAI (OPENAI_BASE_URL is set)." in result.stderr
    body = server.last_request.json()
    assert body["model"] == "qwen2.5"
    assert "pears" in body["messages"][1]["content"]


def test_openai_stream_async_streams_two_answers_concurrently(server: LoopbackServer) -> None:
    server.queue(Turn(Text("Pear", " tart."), usage=(9, 3)), Turn(Text("Plum", " cake."), usage=(9, 3)))
    out = _ok(_run("openai_stream_async.py", server))
    answers = dict(line.split(": ", 1) for line in out.splitlines()[-2:])
    assert list(answers) == ["pears", "plums"]
    assert sorted(answers.values()) == ["Pear tart. (3 tokens)", "Plum cake. (3 tokens)"]
    for ingredient, answer in answers.items():  # each piece was printed as it arrived
        assert f"[{ingredient}] {answer.split()[0]!r}" in out
    assert len(server.requests) == 2


def test_openai_responses_runs_the_tool_loop_and_continues_a_response(server: LoopbackServer) -> None:
    server.queue(
        Turn(Thinking("Look it up."), Call("get_weather", {"city": "Oslo"}), usage=(30, 9)),
        Turn(Text("Oslo is", " mild today."), usage=(44, 5), id="resp_final"),
    )
    result = _run("openai_responses.py", server, "And in Oslo?", "--continue-from", "resp_1", "--summary")
    out = _ok(result)
    assert out.startswith("Oslo is mild today.\n\n[gpt-5-mini] finish: stop, tools called: ['get_weather']")
    assert "continue with: --continue-from resp_final" in out
    assert "Look it up." in result.stderr and "Look it up." not in out
    first, second = (request.json() for request in server.requests)
    assert first["previous_response_id"] == second["previous_response_id"] == "resp_1"
    assert first["reasoning"] == {"summary": "auto"}
    assert second["input"][-1] == {
        "type": "function_call_output",
        "call_id": second["input"][-2]["call_id"],
        "output": "Oslo: 21 degrees, sunny",
    }


def test_anthropic_stream_keeps_thinking_apart_from_the_answer(server: LoopbackServer) -> None:
    server.queue(Turn(Thinking("Apples are", " sweet."), Text("Apple", " pie."), usage=(20, 8)))
    result = _run("anthropic_stream.py", server, "pears", "--thinking", "2048", provider="anthropic")
    out = _ok(result)
    assert out.startswith("Apple pie.\n\n[claude-sonnet-4-6] finish: stop")
    assert "Apples are sweet." in result.stderr and "Apples are sweet." not in out
    body = server.last_request.json()
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["max_tokens"] == 3072
    assert body["system"] == "You are a chef who answers briefly."


def test_gemini_stream_shows_thoughts_when_asked(server: LoopbackServer) -> None:
    server.queue(Turn(Thinking("Pears are", " juicy."), Text("Pear", " tart."), usage=(20, 8)))
    out = _ok(_run("gemini_stream.py", server, "--thoughts", "--model", "gemini-2.5-pro", provider="gemini"))
    assert out.startswith("[thinking] Pears are juicy.\n\nPear tart.\n\n[gemini-2.5-pro] finish: stop")
    request = server.last_request
    assert request.path.startswith("/v1/models/gemini-2.5-pro:streamGenerateContent")
    assert request.json()["generationConfig"]["thinkingConfig"] == {"include_thoughts": True}


def test_gemini_stream_says_what_to_set_without_a_key() -> None:
    result = _run("gemini_stream.py", None)
    assert result.returncode == 2
    assert result.stdout == ""
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL", "openai_stream.py"):
        assert name in result.stderr


@pytest.mark.parametrize(
    ("script", "variables"),
    [
        ("openai_stream.py", "OPENAI_API_KEY or OPENAI_BASE_URL"),
        ("anthropic_stream.py", "ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL"),
        ("function_tool.py", "OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY (or GOOGLE_API_KEY)"),
    ],
)
def test_without_a_key_or_the_local_extra_an_example_says_what_to_do(script: str, variables: str) -> None:
    # Runs the example as `python examples/<script>` would, but with llama.cpp's package
    # unimportable, as it is when `mirastream[local]` is not installed.
    path = str(EXAMPLES / script)
    code = (
        "import runpy, sys\n"
        "sys.modules['xllamacpp'] = None\n"
        f"sys.path.insert(0, {str(EXAMPLES)!r})\n"
        f"sys.argv = [{path!r}]\n"
        f"runpy.run_path({path!r}, run_name='__main__')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=_environment(None, "openai"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert 'pip install "mirastream[local]"' in result.stderr
    assert variables in result.stderr
    assert "xllamacpp is not installed" in result.stderr


def test_native_chunks_shows_the_sdk_objects(server: LoopbackServer) -> None:
    server.queue(Turn(Text("Water", " runs."), usage=(7, 2)))
    result = _run("native_chunks.py", server, provider="gemini")
    out = _ok(result)
    assert "Using Gemini (GOOGLE_GEMINI_BASE_URL is set)." in result.stderr
    rows = [line.split(maxsplit=3) for line in out.splitlines() if line.startswith("GenerateContentResponse")]
    assert rows[:2] == [
        ["GenerateContentResponse", "Candidate", "Content", "'Water'"],
        ["GenerateContentResponse", "Candidate", "Content", "' runs.'"],
    ]
    assert "\nWater runs.\n[gemini] usage: input_tokens=7 output_tokens=2" in out


# --- Errors, retries, cancelling --------------------------------------------------------------


def test_retries_then_a_timeout_keeps_the_partial_answer(server: LoopbackServer) -> None:
    server.queue(
        ErrorReply(503, "Overloaded"),
        Turn(Text("Apple", " pie"), Pause(3.0), Text(" and crumble.")),
    )
    started = time.monotonic()
    result = _run("retries_and_timeouts.py", server, "--idle", "1")
    assert result.returncode == 1, result.stderr
    (retry,) = [line for line in result.stderr.splitlines() if line.startswith("[attempt")]
    assert retry.startswith("[attempt 1: openai answered HTTP 503") and retry.endswith("retrying in 0.5 s]")
    assert result.stdout.startswith("Apple pie\n[APITimeoutError: ")
    assert result.stdout.rstrip().endswith("kept the 9 characters that arrived]")
    assert len(server.requests) == 2
    assert time.monotonic() - started < 20


def test_stop_button_stops_the_stream_from_another_thread(server: LoopbackServer) -> None:
    server.queue(Turn(Text("Once upon", " a time"), Pause(10.0), Text(" the end.")))
    started = time.monotonic()
    with subprocess.Popen(
        [sys.executable, str(EXAMPLES / "stop_button.py")],
        env=_environment(server, "openai"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdin is not None and process.stdout is not None
        seen = ""
        while "a time" not in seen:
            piece = process.stdout.read(1)
            assert piece, f"the story never streamed: {seen!r}"
            seen += piece
        process.stdin.write("\n")  # the stop button
        process.stdin.flush()
        out, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert (seen + out).endswith("Once upon a time\n\n[stopped: kept 16 characters]\n")
    assert time.monotonic() - started < 10  # well before the rest of the story


def test_cancel_async_cancels_a_task_and_closes_from_another(server: LoopbackServer) -> None:
    story = Turn(Text("Once upon", " a time"), Pause(10.0), Text(" the end."))
    server.queue(story, story)
    started = time.monotonic()
    out = _ok(_run("cancel_async.py", server, "--after", "1"))
    assert "the end" not in out
    assert "[task cancelled after 1.0 s; kept " in out
    assert "[closed from another task: interrupted=True, kept " in out
    assert len(server.requests) == 2
    assert time.monotonic() - started < 10  # the streams stopped, not the story


# --- Conversation and structured data -----------------------------------------------------------


def test_chat_history_sends_the_conversation_so_far(server: LoopbackServer) -> None:
    server.queue(Turn(Text("A strawberry.")), Turn(Text("A banana.")))
    stdin = "Name a red fruit.\nAnd a yellow one?\n"
    result = _run("chat_history.py", server, provider="anthropic", stdin=stdin)
    out = _ok(result)
    assert "Using Anthropic (ANTHROPIC_BASE_URL is set)." in result.stderr
    assert "model> A strawberry.\n" in out and "model> A banana.\n" in out
    assert out.rstrip().endswith("[4 messages in the conversation]")
    assert server.requests[1].messages()[1:] == [
        Message(role="user", content="Name a red fruit."),
        Message(role="assistant", content="A strawberry."),
        Message(role="user", content="And a yellow one?"),
    ]


def test_structured_output_validates_the_models_data(server: LoopbackServer) -> None:
    server.queue(
        Turn(Call("Person", {"name": "Grace Hopper", "born": "nineteen-o-six"}, id="call_1")),
        Turn(
            Call(
                "Person", {"name": "Grace Hopper", "born": 1906, "occupation": "computer scientist"}, id="c2"
            ),
            Call("Person", {"name": "Howard Aiken"}, id="call_3"),
        ),
        Turn(Text("Done.")),
    )
    out = _ok(_run("structured_output.py", server))
    assert "[the model's call was rejected and sent back: 1 invalid argument for tool `Person`" in out
    assert "Person(name='Grace Hopper', born=1906, occupation='computer scientist')" in out
    assert "Person(name='Howard Aiken', born=None, occupation=None)" in out
    assert out.rstrip().endswith("model: Done.")
    assert server.requests[0].tool_names() == ["Person"]


# --- Tools ------------------------------------------------------------------------------------


def test_function_tool_runs_the_tool_and_answers(server: LoopbackServer) -> None:
    server.queue(Reply.sse("tools/openai_weather.sse"), Reply.sse("tools/openai_weather_final.sse"))
    out = _ok(_run("function_tool.py", server, "Weather?", "--model", "qwen2.5"))
    assert "[get_weather({'city': 'Paris', 'unit': 'celsius'}) -> " in out
    assert out.rstrip().endswith("It is 21 C in Paris.")
    (tool_message,) = [m for m in server.requests[1].json()["messages"] if m["role"] == "tool"]
    assert '"temperature": 21' in tool_message["content"]


def test_status_events_log_each_step(server: LoopbackServer) -> None:
    server.queue(
        Turn(
            Call("convert", {"amount": 30, "currency": "usd"}),
            Call("convert", {"amount": 30, "currency": "X"}),
        ),
        Turn(Text("30 EUR is 32.40 USD.")),
    )
    lines = _ok(_run("status_events.py", server)).splitlines()
    assert lines[-2:] == ["30 EUR is 32.40 USD.", lines[-1]]  # the answer, then the run's end
    assert [line.split(" s] ", 1)[1] for line in lines if line != "30 EUR is 32.40 USD."] == [
        "run.created",
        "step.started convert({'amount': 30, 'currency': 'usd'})",
        "step.completed convert({'amount': 30, 'currency': 'usd'}) -> 30 EUR = 32.40 USD",
        "step.started convert({'amount': 30, 'currency': 'X'})",
        "step.completed convert({'amount': 30, 'currency': 'X'}) -> "
        "The tool raised ValueError: no rate for X; known: USD, JPY, GBP",
        "run.completed",
    ]


@pytest.mark.parametrize(("provider", "flags"), [("openai", ()), ("anthropic", ("--async",))])
def test_custom_tool_streams_its_progress_and_answers(
    server: LoopbackServer, provider: str, flags: tuple[str, ...]
) -> None:
    server.queue(
        Turn(Text("Let me count."), Call("count_primes", {"below": 10_000_000}, id="call_big")),
        Turn(Text("That is too far; "), Call("count_primes", {"below": 1000}, id="call_ok")),
        Turn(Text("There are 168 primes below 1000.")),
    )
    result = _run("custom_tool.py", server, *flags, provider=provider)
    out = _ok(result)
    assert out.splitlines() == [
        "Let me count.That is too far; ",
        "[1/4: 53 primes so far]",
        "[2/4: 95 primes so far]",
        "[3/4: 132 primes so far]",
        "[4/4: 168 primes so far]",
        "There are 168 primes below 1000.",
    ]
    rejected, counted = (message for message in server.requests[2].messages() if message.role == "tool")
    assert rejected.content == "`below` must be an integer from 1 to 2000000."
    assert counted.content == "There are 168 primes below 1000."
    assert server.requests[0].tool_names() == ["count_primes"]


def test_code_interpreter_streams_code_output_and_answer(server: LoopbackServer) -> None:
    server.queue(Reply.sse("tools/openai_execute.sse"), Reply.sse("tools/openai_final.sse"))
    out = _ok(_run("code_interpreter.py", server, "34/24?"))
    assert '```python\nx = 34 / 24\nprint("ratio:", round(x, 3))\nx\n```' in out
    assert "ratio: 1.417\n1.4166666666666667\n" in out
    assert out.rstrip().endswith("34 / 24 is about 1.417.")


def test_lmc_export_prints_lmc_json_lines(server: LoopbackServer) -> None:
    server.queue(
        Turn(Call("execute", {"language": "shell", "code": "echo $((6 * 7))"})),
        Turn(Text("It is 42.")),
    )
    out = _ok(_run("lmc_export.py", server))
    messages = [json.loads(line) for line in out.splitlines()]
    assert {"role": "computer", "type": "console", "format": "output", "content": "42\n"} in messages
    assert any(message["type"] == "confirmation" for message in messages)
    assert messages[-1] == {"role": "assistant", "type": "message", "content": "It is 42."}
    assert all(message.get("content") != "" for message in messages)


def test_confirm_before_running_reports_a_no_to_the_model(server: LoopbackServer) -> None:
    server.queue(Reply.sse("tools/openai_shell.sse"), Reply.sse("tools/openai_final.sse"))
    out = _ok(_run("confirm_before_running.py", server, stdin="n\n"))
    assert "Run this shell code? [y/N]" in out
    assert "\n-end\n" not in out  # the code never ran (its output would be "-end")
    assert "declined" in server.requests[1].body.decode()


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_hosted_code_streams_the_providers_code_and_output(server: LoopbackServer, provider: str) -> None:
    name = "openai_responses" if provider == "openai" else provider
    server.queue(Reply.sse(f"hosted_code/{name}.sse"))
    out = _ok(_run("hosted_code.py", server, "34/24?", provider=provider))
    fence = "shell" if provider == "anthropic" else "python"
    assert out.startswith(f"Let me compute.\n```{fence}\n")
    assert f"\n```\n[ran on {provider}'s servers]\nratio: 1.417\n" in out
    assert out.rstrip().endswith(f"1 execution(s) on {provider}'s servers")
    assert len(server.requests) == 1


# --- Every example is run by a test -----------------------------------------------------------


def _examples_run_here() -> set[str]:
    """The examples this module runs: `_run("name.py", ...)` and `EXAMPLES / "name.py"`."""
    names = set()
    for node in ast.walk(ast.parse(Path(__file__).read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_run":
            name = node.args[0]
        elif isinstance(node, ast.BinOp) and isinstance(node.left, ast.Name) and node.left.id == "EXAMPLES":
            name = node.right
        else:
            continue
        if isinstance(name, ast.Constant) and isinstance(name.value, str):
            names.add(name.value)
    return names


def _examples() -> set[str]:
    return {path.name for path in EXAMPLES.glob("*.py")} - {"_setup.py"}


def test_every_example_is_run_by_a_test() -> None:
    examples = _examples()
    untested = examples - _examples_run_here() - set(TESTED_ELSEWHERE)
    assert not untested, f"examples without a test in {Path(__file__).name}: {sorted(untested)}"
    for example, test_file in TESTED_ELSEWHERE.items():
        assert example in (ROOT / test_file).read_text(), f"{test_file} no longer runs {example}"


def test_every_example_is_listed_in_the_examples_readme() -> None:
    listed = re.findall(r"^\| `([\w.]+\.py)` \|", (EXAMPLES / "README.md").read_text(), re.MULTILINE)
    assert sorted(listed) == sorted(_examples())
