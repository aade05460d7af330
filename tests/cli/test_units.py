"""The pieces without IO: option parsing, the provider choice, the conversation's messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mirastream import Message, Response, ToolCall
from mirastream.cli._history import turn_messages
from mirastream.cli._options import DEFAULT_SYSTEM, LOCAL_SYSTEM, PLAIN_SYSTEM, UsageError, parse_options
from mirastream.cli._providers import ChatModel, ProviderChoice, choose_provider, interpreter_languages
from mirastream.responses import Choice, Step, ToolResult


def test_words_are_joined_into_one_message() -> None:
    options = parse_options(["chat", "What", "is", "34/24?", "--auto-run"])
    assert options.message == "What is 34/24?"
    assert options.interactive is False
    assert options.auto_run is True
    assert options.system_prompt == DEFAULT_SYSTEM


def test_no_message_means_interactive_and_flags_are_read() -> None:
    options = parse_options(
        [
            "chat",
            "--provider",
            "gemini",
            "--model",
            "m",
            "--no-tools",
            "--images-dir",
            "out",
            "--max-steps",
            "3",
        ]
    )
    assert options.message is None and options.interactive is True
    assert (options.provider, options.model, options.tools) == ("gemini", "m", False)
    assert options.images_dir == Path("out")
    assert options.max_steps == 3
    assert options.system_prompt == PLAIN_SYSTEM


@pytest.mark.parametrize(
    "argv",
    [
        ["chat", "--provider", "other"],
        ["chat", "--max-steps", "0"],
        ["chat", "--model", ""],
        ["chat", "--api-key-env", "KEY"],
        ["chat", "--provider", "local", "--base-url", "http://127.0.0.1:8000/v1"],
        [],
    ],
)
def test_bad_command_lines_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UsageError) as raised:
        parse_options(argv)
    assert raised.value.code == 2
    assert "usage: mirastream" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("environ", "provider", "reason"),
    [
        ({"OPENAI_API_KEY": "k"}, "openai", "OPENAI_API_KEY is set"),
        ({"ANTHROPIC_API_KEY": "k"}, "anthropic", "ANTHROPIC_API_KEY is set"),
        ({"GEMINI_API_KEY": "k"}, "gemini", "GEMINI_API_KEY is set"),
        ({"GOOGLE_API_KEY": "k"}, "gemini", "GOOGLE_API_KEY is set"),
        ({"OPENAI_API_KEY": "k", "GEMINI_API_KEY": "k"}, "openai", "also set: GEMINI_API_KEY"),
        ({"OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": "k"}, "anthropic", "ANTHROPIC_API_KEY is set"),
        ({"OPENAI_BASE_URL": "http://127.0.0.1:8080/v1"}, "openai", "OPENAI_BASE_URL is set"),
        ({}, "local", "no OPENAI_API_KEY, ANTHROPIC_API_KEY or GEMINI_API_KEY is set"),
    ],
)
def test_the_provider_follows_the_keys(environ: dict[str, str], provider: str, reason: str) -> None:
    choice = choose_provider(None, environ)
    assert choice.name == provider
    assert reason in choice.reason


def test_an_explicit_provider_is_kept() -> None:
    assert choose_provider("local", {"OPENAI_API_KEY": "k"}).name == "local"


CALL = ToolCall.from_raw("call_1", "execute", '{"language": "python", "code": "1 + 1"}')


def _turn(text: str, *calls: ToolCall, interrupted: bool = False) -> Response:
    finish = "tool_calls" if calls else "stop"
    choice = Choice(text=text, tool_calls=calls, finish_reason=None if interrupted else finish)
    return Response(provider="openai", choices=(choice,), interrupted=interrupted)


def test_a_tool_loop_becomes_the_messages_the_loop_sent() -> None:
    first = _turn("Let me compute.", CALL)
    last = _turn("It is 2.")
    steps = (Step(response=first, results=(ToolResult(call=CALL, output="2\n"),)), Step(response=last))
    response = last.model_copy(update={"steps": steps})
    assert turn_messages("1 + 1?", response) == [
        Message(role="user", content="1 + 1?"),
        Message(role="assistant", content="Let me compute.", tool_calls=(CALL,)),
        Message(role="tool", content="2\n", tool_call_id="call_1", name="execute"),
        Message(role="assistant", content="It is 2."),
    ]


def test_an_interrupted_turn_keeps_its_text_but_not_an_unanswered_call() -> None:
    partial = _turn("Let me compute.", CALL, interrupted=True)
    response = partial.model_copy(update={"steps": (Step(response=partial),)})
    assert turn_messages("1 + 1?", response) == [
        Message(role="user", content="1 + 1?"),
        Message(role="assistant", content="Let me compute."),
    ]


def test_a_turn_that_produced_nothing_adds_nothing() -> None:
    assert turn_messages("hello", Response(provider="openai", interrupted=True)) == []


def test_importing_the_command_loads_no_sdk_and_no_rich() -> None:
    import subprocess
    import sys

    script = "import sys, mirastream.cli\nprint(' '.join(sorted(sys.modules)))"
    loaded = set(
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert "mirastream.cli" in loaded
    assert not {"rich", "openai", "anthropic", "google.genai", "jupyter_client", "mirastream.local"} & loaded


def test_the_local_model_gets_a_system_prompt_written_for_small_models() -> None:
    options = parse_options(["chat", "hi"])
    assert options.system_prompt_for("local") == LOCAL_SYSTEM
    assert "Never compute anything in your head" in LOCAL_SYSTEM
    assert options.system_prompt_for("openai") == DEFAULT_SYSTEM
    assert parse_options(["chat", "--system", "Be brief.", "hi"]).system_prompt_for("local") == "Be brief."
    assert parse_options(["chat", "--no-tools", "hi"]).system_prompt_for("local") == PLAIN_SYSTEM


def test_the_local_model_is_offered_python_alone() -> None:
    assert interpreter_languages("local") == ("python",)
    assert interpreter_languages("openai") == ("python", "shell")


def test_the_local_chat_decodes_greedily_with_a_token_cap_and_takes_short_model_names() -> None:
    from mirastream.errors import MissingDependencyError

    try:
        from mirastream.local import CODER_0_5B, check_installed

        check_installed()
    except (ImportError, MissingDependencyError) as error:
        pytest.skip(f"the local model is not installed: {error}")
    options = parse_options(["chat", "--provider", "local", "--model", "0.5b", "hi"])
    model = ChatModel(ProviderChoice("local", "test"), options, [])
    params: Any = getattr(model.prompt_class, "call_params")  # noqa: B009
    assert (params.temperature, params.max_tokens) == (0.0, 1024)
    assert getattr(model.prompt_class, "local_server").model is CODER_0_5B  # noqa: B009
    assert model.model == CODER_0_5B.name
    assert model.system == LOCAL_SYSTEM
