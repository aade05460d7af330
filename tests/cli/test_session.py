"""What makes the chat one to keep open: questions under their code, the user's folder as the
workspace (sandboxed), kept conversations, call settings, the model list, `/`-commands."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from mirastream.cli._turn import summary
from mirastream.responses import Response, Usage

from ..loopback import LoopbackServer, Reply
from .conftest import Run, cli_reply

FIRST = "```python\nprint('first:', 6 * 7)\n```\n"
SECOND = "```shell\necho second: $((5 + 5))\n```\n"


def roles(server: LoopbackServer, request: int) -> list[str]:
    return [message["role"] for message in server.requests[request].json()["messages"]]


def test_with_two_calls_each_question_and_run_follow_their_own_code(
    chat: Callable[..., Run], connect: Callable[[str], None], server: LoopbackServer
) -> None:
    connect("openai")
    server.queue(cli_reply("openai_two_calls.sse"), Reply.sse("tools/openai_final.sse"))
    run = chat("chat", "Two things", stdin="y\ny\n")
    assert run.status == 0, run.err
    # Both calls stream as the model writes them; then each is shown again, as it runs,
    # right before its question, and its output follows it.
    assert (
        run.out
        == f"Two steps.\n{FIRST}{SECOND}{FIRST}first: 42\n{SECOND}second: 10\n34 / 24 is about 1.417.\n"
    )
    assert run.err.index("Run this python code? [y/N] y\n") < run.err.index("Run this shell code? [y/N] y\n")


def test_one_call_is_shown_once_before_its_question(
    chat: Callable[..., Run], connect: Callable[[str], None], server: LoopbackServer
) -> None:
    connect("openai")
    server.queue(Reply.sse("tools/openai_execute.sse"), Reply.sse("tools/openai_final.sse"))
    run = chat("chat", "What is 34/24?", stdin="y\n")
    assert run.status == 0, run.err
    assert run.out.count("```python") == 1


def test_piped_input_never_runs_prompts_together(
    chat: Callable[..., Run], connect: Callable[[str], None], server: LoopbackServer
) -> None:
    connect("openai")
    server.queue(Reply.sse("tools/openai_execute.sse"), Reply.sse("tools/openai_final.sse"))
    server.queue(Reply.sse("openai/text.sse"))
    run = chat("chat", stdin="What is 34/24?\ny\n\nRecipes?\n")
    assert run.status == 0, run.err
    # Each prompt is followed by the line read for it, as a terminal would echo it.
    for line in ("> What is 34/24?\n", "Run this python code? [y/N] y\n", "> \n", "> Recipes?\n"):
        assert line in run.err
    assert "> >" not in run.err
    assert run.err.endswith("> \n")  # the end of input ends the last prompt's line too
    assert run.out.endswith("baked apples.\n")


def test_unknown_commands_say_so_and_help_lists_the_known_ones(
    chat: Callable[..., Run], connect: Callable[[str], None], server: LoopbackServer
) -> None:
    connect("openai")
    run = chat("chat", "--no-tools", stdin="/nope\n/help\n")
    assert run.status == 0, run.err
    assert "unknown command /nope: /help lists the commands" in run.err
    for command in ("/help", "/reset", "/exit"):
        assert f"\n{command} " in run.err
    assert server.requests == []  # no message was sent


def test_the_code_runs_in_the_current_folder_and_can_write_nothing_else(
    chat: Callable[..., Run], connect: Callable[[str], None], server: LoopbackServer, user_folder: Path
) -> None:
    connect("openai")
    server.queue(cli_reply("openai_save_plot.sse"), Reply.sse("tools/openai_final.sse"))
    run = chat("chat", "Plot sin(x) and save it to sine.png", "--auto-run")
    assert run.status == 0, run.err
    assert f"code runs in {user_folder} (the only folder it can write to)" in run.err
    assert (user_folder / "sine.png").read_bytes().startswith(b"\x89PNG")
    assert f"saved {user_folder / 'sine.png'}" in run.out
    assert "refused:" in run.out
    assert not (user_folder.parent / "outside.txt").exists()


def test_workdir_chooses_another_folder(
    chat: Callable[..., Run], connect: Callable[[str], None], server: LoopbackServer, user_folder: Path
) -> None:
    connect("openai")
    server.queue(cli_reply("openai_save_plot.sse"), Reply.sse("tools/openai_final.sse"))
    other = user_folder / "plots"
    other.mkdir()
    run = chat("chat", "Plot it", "--auto-run", "--workdir", "plots")
    assert run.status == 0, run.err
    assert (other / "sine.png").is_file() and not (user_folder / "sine.png").exists()


def test_no_sandbox_warns_and_runs_the_code(
    chat: Callable[..., Run], connect: Callable[[str], None], server: LoopbackServer
) -> None:
    connect("openai")
    server.queue(Reply.sse("tools/openai_execute.sse"), Reply.sse("tools/openai_final.sse"))
    run = chat("chat", "What is 34/24?", "--auto-run", "--no-sandbox")
    assert run.status == 0, run.err
    assert "warning: --no-sandbox: the model's code runs as you, uncontained" in run.err
    assert "(not sandboxed)" in run.err
    assert "ratio: 1.417" in run.out


def test_conversations_are_kept_listed_and_continued(
    chat: Callable[..., Run], connect: Callable[[str], None], server: LoopbackServer, tmp_path: Path
) -> None:
    connect("openai")
    server.queue(Reply.sse("tools/openai_execute.sse"), Reply.sse("tools/openai_final.sse"))
    assert chat("chat", "What is 34/24?", "--auto-run").status == 0
    server.queue(Reply.sse("openai/text.sse"))
    assert chat("chat", "Recipes?", "--no-tools").status == 0
    assert (tmp_path / "data" / "mirastream" / "logs.db").is_file()

    listed = chat("logs")
    assert listed.status == 0, listed.err
    latest, first = listed.out.splitlines()
    assert latest.endswith("gpt-4o-mini  1 turn  Recipes?")
    assert first.endswith("gpt-4o-mini  1 turn  What is 34/24?")
    first_id, latest_id = first.split()[0], latest.split()[0]

    server.queue(Reply.sse("openai/text.sse"))
    run = chat("chat", "-c", "And pears?", "--no-tools")
    assert run.status == 0, run.err
    assert f"continuing conversation {latest_id} (2 messages)" in run.err
    assert roles(server, -1) == ["system", "user", "assistant", "user"]

    server.queue(Reply.sse("openai/text.sse"))
    run = chat("chat", "--cid", first_id[:6], "And 35/24?", "--no-tools")  # a unique start is enough
    assert run.status == 0, run.err
    # The turn with code comes back whole: the call, its output, the answer.
    assert roles(server, -1) == ["system", "user", "assistant", "tool", "assistant", "user"]
    assert "ratio: 1.417" in server.last_request.body.decode()
    assert chat("logs").out.splitlines()[0].startswith(f"{first_id}  ")
    assert "2 turns  What is 34/24?" in chat("logs").out


def test_a_conversation_that_does_not_exist_is_a_usage_error(
    chat: Callable[..., Run], connect: Callable[[str], None], server: LoopbackServer
) -> None:
    connect("openai")
    run = chat("chat", "--cid", "0123abcd", "hello")
    assert run.status == 2
    assert "no conversation 0123abcd; `mirastream logs` lists them" in run.err
    run = chat("chat", "-c", "hello")
    assert run.status == 2 and "the log is empty" in run.err
    assert server.requests == []


def test_no_log_keeps_nothing(
    chat: Callable[..., Run], connect: Callable[[str], None], server: LoopbackServer, tmp_path: Path
) -> None:
    connect("openai")
    server.queue(Reply.sse("openai/text.sse"))
    assert chat("chat", "Recipes?", "--no-tools", "--no-log").status == 0
    assert not (tmp_path / "data" / "mirastream" / "logs.db").exists()
    assert "no conversations kept yet" in chat("logs").err


def test_an_unusable_log_does_not_stop_the_chat(
    chat: Callable[..., Run], connect: Callable[[str], None], server: LoopbackServer, tmp_path: Path
) -> None:
    connect("openai")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "mirastream").write_text("a file where the folder should be")
    server.queue(Reply.sse("openai/text.sse"))
    run = chat("chat", "Recipes?", "--no-tools")
    assert run.status == 0
    assert run.out.startswith("Try apple crumble")
    assert "cannot open the conversation log" in run.err and "not kept" in run.err


def test_the_log_is_sqlite_with_each_turn_as_json(
    chat: Callable[..., Run], connect: Callable[[str], None], server: LoopbackServer, tmp_path: Path
) -> None:
    connect("openai")
    server.queue(Reply.sse("openai/text.sse"))
    assert chat("chat", "Recipes?", "--no-tools").status == 0
    with sqlite3.connect(tmp_path / "data" / "mirastream" / "logs.db") as connection:
        ((provider, model, messages),) = connection.execute("SELECT provider, model, messages FROM turns")
    assert (provider, model) == ("openai", "gpt-4o-mini")
    assert [message["role"] for message in json.loads(messages)] == ["user", "assistant"]


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        ("openai", {"temperature": 0.3, "max_tokens": 50, "seed": 7, "stop": ["END"], "user": "me"}),
        ("anthropic", {"temperature": 0.3, "max_tokens": 50, "top_k": 7}),
    ],
)
def test_temperature_max_tokens_and_other_call_parameters(
    provider: str,
    expected: dict[str, object],
    chat: Callable[..., Run],
    connect: Callable[[str], None],
    server: LoopbackServer,
) -> None:
    connect(provider)
    server.queue(Reply.sse(f"{provider}/text.sse"))
    extra = (
        ["-o", "seed=7", "-o", 'stop=["END"]', "-o", "user=me"] if provider == "openai" else ["-o", "top_k=7"]
    )
    run = chat("chat", "hi", "--no-tools", "--temperature", "0.3", "--max-tokens", "50", *extra)
    assert run.status == 0, run.err
    body = server.last_request.json()
    assert {name: body[name] for name in expected} == expected


def test_gemini_gets_max_output_tokens(
    chat: Callable[..., Run], connect: Callable[[str], None], server: LoopbackServer
) -> None:
    connect("gemini")
    server.queue(Reply.sse("gemini/text.sse"))
    run = chat("chat", "hi", "--no-tools", "--max-tokens", "50", "--temperature", "0")
    assert run.status == 0, run.err
    config = server.last_request.json()["generationConfig"]
    assert config["maxOutputTokens"] == 50 and config["temperature"] == 0


def test_a_call_parameter_the_provider_does_not_take_is_a_usage_error(
    chat: Callable[..., Run], connect: Callable[[str], None], server: LoopbackServer
) -> None:
    connect("openai")
    run = chat("chat", "hi", "-o", "temprature=1")
    assert run.status == 2
    assert "invalid setting: temprature" in run.err
    assert chat("chat", "hi", "-o", "no-equals-sign").status == 2
    assert chat("chat", "hi", "--temperature", "warm").status == 2
    assert server.requests == []


@pytest.mark.parametrize("argv", [["models"], ["chat", "--list-models"]])
def test_the_model_list_names_each_providers_model(
    argv: list[str], chat: Callable[..., Run], connect: Callable[[str], None]
) -> None:
    connect("anthropic")
    run = chat(*argv)
    assert run.status == 0, run.err
    lines = run.out.splitlines()
    assert lines[0].startswith("openai") and "gpt-4o-mini" in lines[0]
    assert "claude-sonnet-4-6  <- chosen: ANTHROPIC_API_KEY is set" in lines[1]
    assert "gemini-2.5-flash" in lines[2]
    local = [line for line in lines if line.startswith("local")]
    assert local and any("1.5b" in line or "not installed" in line for line in local)


def test_the_footer_names_the_model_and_the_speed() -> None:
    usage = Usage(input_tokens=10, output_tokens=40, total_tokens=50)
    answered = Response(provider="openai", model="gpt-x", usage=usage, duration=2.5, time_to_first_chunk=0.5)
    assert summary("openai", answered, "gpt-asked") == (
        "openai · gpt-x · 10 in / 40 out tokens · 20.0 tokens/s · finish: unknown · 2.5 s"
    )
    nothing = Response(provider="local", interrupted=True)
    assert summary("local", nothing, "qwen2.5-coder") == "local · qwen2.5-coder · interrupted"
