"""`mirastream chat` end to end in-process: real SDKs on the loopback server, real code execution.

stdout is not a terminal here, so the output is plain text: the transcript on stdout,
notices, questions and the footer on stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ..loopback import LoopbackServer, Reply
from .conftest import Run, cli_reply

CODE_BLOCK = '```python\nx = 34 / 24\nprint("ratio:", round(x, 3))\nx\n```'
OUTPUT = "ratio: 1.417\n1.4166666666666667\n"
ANSWER = "34 / 24 is about 1.417."


def tool_messages(server: LoopbackServer, request: int) -> list[dict[str, object]]:
    return [m for m in server.requests[request].json()["messages"] if m["role"] == "tool"]


def test_one_shot_text_streams_the_answer_and_a_footer(
    chat: Callable[..., Run], connect: Callable[[str], None], server: LoopbackServer
) -> None:
    connect("openai")
    server.queue(Reply.sse("openai/text.sse"))
    run = chat("chat", "Recipes", "with", "pears?", "--model", "gpt-test", "--no-tools")
    assert run.status == 0, run.err
    assert run.out == "Try apple crumble, apple pie and baked apples.\n"
    assert "\x1b" not in run.out + run.err  # not a terminal: no escape codes
    body = server.last_request.json()
    assert body["model"] == "gpt-test"
    assert "tools" not in body
    assert body["messages"][-1] == {"role": "user", "content": "Recipes with pears?"}
    footer = run.err.strip().splitlines()[-1]
    assert "finish: stop" in footer and "in /" in footer and "out tokens" in footer


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_the_provider_is_chosen_from_the_key_that_is_set(
    provider: str, chat: Callable[..., Run], connect: Callable[[str], None], server: LoopbackServer
) -> None:
    connect(provider)
    server.queue(Reply.sse(f"{provider}/text.sse"))
    run = chat("chat", "Recipes?", "--no-tools")
    assert run.status == 0, run.err
    assert run.out.startswith("Try apple crumble")
    key = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "gemini": "GEMINI_API_KEY"}[provider]
    first_line = run.err.splitlines()[0]
    assert first_line.startswith(provider) and f"{key} is set" in first_line
    path = server.last_request.path
    expected = {
        "openai": "/chat/completions",
        "anthropic": "/v1/messages",
        "gemini": ":streamGenerateContent",
    }
    assert expected[provider] in path


def test_an_explicit_provider_wins_over_the_keys(
    chat: Callable[..., Run], connect: Callable[[str], None], server: LoopbackServer
) -> None:
    connect("openai")
    connect("anthropic")
    server.queue(Reply.sse("anthropic/text.sse"))
    run = chat("chat", "Recipes?", "--provider", "anthropic", "--no-tools")
    assert run.status == 0, run.err
    assert server.last_request.path.startswith("/v1/messages")
    assert "--provider anthropic" in run.err.splitlines()[0]


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_code_runs_after_a_yes(
    provider: str, chat: Callable[..., Run], connect: Callable[[str], None], server: LoopbackServer
) -> None:
    connect(provider)
    server.queue(Reply.sse(f"tools/{provider}_execute.sse"), Reply.sse(f"tools/{provider}_final.sse"))
    run = chat("chat", "What is 34/24? Compute it.", stdin="y\n")
    assert run.status == 0, run.err
    assert "Run this python code? [y/N]" in run.err
    assert run.out == f"Let me compute.\n{CODE_BLOCK}\n{OUTPUT}{ANSWER}\n"
    assert "ratio: 1.417" in server.requests[1].body.decode()  # the output went back to the model
    assert "2 steps" in run.err


def test_code_is_not_run_after_a_no(
    chat: Callable[..., Run], connect: Callable[[str], None], server: LoopbackServer
) -> None:
    connect("openai")
    server.queue(Reply.sse("tools/openai_execute.sse"), Reply.sse("tools/openai_final.sse"))
    run = chat("chat", "What is 34/24?", stdin="n\n")
    assert run.status == 0, run.err
    assert "ratio: 1.417" not in run.out
    assert "(not run)" in run.err
    (result,) = tool_messages(server, 1)
    assert "declined" in str(result["content"])


def test_the_end_of_input_at_the_question_means_no(
    chat: Callable[..., Run], connect: Callable[[str], None], server: LoopbackServer
) -> None:
    connect("openai")
    server.queue(Reply.sse("tools/openai_execute.sse"), Reply.sse("tools/openai_final.sse"))
    run = chat("chat", "What is 34/24?", stdin="")
    assert run.status == 0, run.err
    assert "ratio: 1.417" not in run.out
    assert "declined" in str(tool_messages(server, 1)[0]["content"])


def test_auto_run_runs_without_asking(
    chat: Callable[..., Run], connect: Callable[[str], None], server: LoopbackServer
) -> None:
    connect("openai")
    server.queue(Reply.sse("tools/openai_execute.sse"), Reply.sse("tools/openai_final.sse"))
    run = chat("chat", "What is 34/24?", "--auto-run")
    assert run.status == 0, run.err
    assert "[y/N]" not in run.err
    assert OUTPUT in run.out


def test_images_from_the_code_are_saved_to_files(
    chat: Callable[..., Run], connect: Callable[[str], None], server: LoopbackServer, tmp_path: Path
) -> None:
    connect("openai")
    server.queue(cli_reply("openai_image.sse"), Reply.sse("tools/openai_final.sse"))
    images = tmp_path / "images"
    run = chat("chat", "Show an image", "--auto-run", "--images-dir", str(images))
    assert run.status == 0, run.err
    (saved,) = images.iterdir()
    assert saved.suffix == ".png"
    assert saved.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert f"[image saved to {saved}]" in run.out
    assert "shown\n" in run.out


def test_images_go_to_a_new_temporary_folder_by_default(
    chat: Callable[..., Run], connect: Callable[[str], None], server: LoopbackServer
) -> None:
    connect("openai")
    server.queue(cli_reply("openai_image.sse"), Reply.sse("tools/openai_final.sse"))
    run = chat("chat", "Show an image", "--auto-run")
    assert run.status == 0, run.err
    line = next(line for line in run.out.splitlines() if line.startswith("[image saved to "))
    saved = Path(line.removeprefix("[image saved to ").removesuffix("]"))
    try:
        assert saved.parent.name.startswith("mirastream-images-")
        assert saved.read_bytes().startswith(b"\x89PNG")
    finally:
        saved.unlink()
        saved.parent.rmdir()


@pytest.mark.parametrize(
    ("provider", "variable"),
    [("openai", "OPENAI_API_KEY"), ("anthropic", "ANTHROPIC_API_KEY"), ("gemini", "GEMINI_API_KEY")],
)
def test_a_missing_key_is_a_usage_error_naming_the_variable(
    provider: str, variable: str, chat: Callable[..., Run], server: LoopbackServer
) -> None:
    run = chat("chat", "hello", "--provider", provider)
    assert run.status == 2
    assert f"error: no {provider} API key: set {variable}" in run.err
    assert "Traceback" not in run.err
    assert server.requests == []  # nothing was sent


def test_a_key_is_not_sent_to_another_host_given_with_base_url(
    chat: Callable[..., Run], monkeypatch: pytest.MonkeyPatch, server: LoopbackServer
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-key")
    run = chat("chat", "hello", "--base-url", "https://llm.example.com/v1")
    assert run.status == 2
    assert "--api-key-env" in run.err
    assert server.requests == []


def test_api_key_env_names_the_key_of_the_base_url_server(
    chat: Callable[..., Run], monkeypatch: pytest.MonkeyPatch, server: LoopbackServer
) -> None:
    monkeypatch.setenv("MY_SERVER_KEY", "sk-my-server")
    server.queue(Reply.sse("openai/text.sse"))
    run = chat(
        "chat",
        "hello",
        "--provider",
        "openai",
        "--base-url",
        f"{server.url}/v1",
        "--api-key-env",
        "MY_SERVER_KEY",
    )
    assert run.status == 0, run.err
    assert server.last_request.headers["authorization"] == "Bearer sk-my-server"


def test_a_provider_error_exits_with_1_and_its_message(
    chat: Callable[..., Run], connect: Callable[[str], None], server: LoopbackServer
) -> None:
    connect("openai")
    server.queue(
        Reply.error(
            401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}
        )
    )
    run = chat("chat", "hello")
    assert run.status == 1
    assert "error:" in run.err and "Incorrect API key provided" in run.err
    assert "Traceback" not in run.err


def test_the_local_provider_explains_how_to_install_it(
    chat: Callable[..., Run], monkeypatch: pytest.MonkeyPatch, server: LoopbackServer
) -> None:
    monkeypatch.setitem(sys.modules, "mirastream.local", None)  # as if it were not installed
    run = chat("chat", "hello")
    assert run.status == 2
    assert run.err.splitlines()[0].startswith("the local model: no OPENAI_API_KEY")
    assert 'pip install "mirastream[local]"' in run.err
    assert "Traceback" not in run.err


def test_a_local_model_file_that_does_not_exist_is_a_usage_error(
    chat: Callable[..., Run], tmp_path: Path, server: LoopbackServer
) -> None:
    missing = tmp_path / "missing.gguf"
    run = chat("chat", "hello", "--provider", "local", "--model", str(missing))
    assert run.status == 2
    assert run.err.splitlines()[0].startswith("the local model (missing.gguf)")
    assert "does not exist" in run.err or 'pip install "mirastream[local]"' in run.err
    assert "Traceback" not in run.err


def test_usage_errors_exit_with_2(chat: Callable[..., Run], capsys: pytest.CaptureFixture[str]) -> None:
    assert chat("chat", "--provider", "nope").status == 2
    assert chat("chat", "hi", "--max-steps", "0").status == 2
    assert chat("chat", "hi", "--provider", "local", "--base-url", "http://127.0.0.1:1/v1").status == 2
    run = chat()
    assert run.status == 2
    assert "chat" in run.err


def test_version(chat: Callable[..., Run]) -> None:
    from mirastream import __version__

    for argv in (["--version"], ["chat", "--version"]):
        run = chat(*argv)
        assert run.status == 0
        assert run.out.strip() == f"mirastream {__version__}"


def test_max_steps_stops_a_model_that_keeps_calling_tools(
    chat: Callable[..., Run], connect: Callable[[str], None], server: LoopbackServer
) -> None:
    connect("openai")
    server.queue(Reply.sse("tools/openai_execute.sse"), Reply.sse("tools/openai_execute.sse"))
    run = chat("chat", "loop", "--auto-run", "--max-steps", "2")
    assert run.status == 1
    assert "max_steps" in run.err
    assert len(server.requests) == 2
