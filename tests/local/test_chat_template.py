"""The local model's chat template, rendered with Jinja: what the model reads after a tool runs.

llama.cpp's server renders the same file with its own Jinja engine (the local-model tests
run it there); these tests pin what each tool outcome asks of the model.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from mirastream._run import REPEATED_FAILURE
from mirastream.local import JSON_FENCE_TEMPLATE, LocalServer
from mirastream.tools._code_events import FINISH_NOTES

TOOLS = [{"type": "function", "function": {"name": "execute", "parameters": {"type": "object"}}}]
QUESTION = "Sort these words alphabetically: pear apple fig"
TEMPLATE = ImmutableSandboxedEnvironment().from_string(JSON_FENCE_TEMPLATE.read_text(encoding="utf-8"))
"""The template rendered by jinja2 (llama.cpp's server renders the same file with its own engine)."""


def render(*after_call: dict[str, Any]) -> str:
    call = {"function": {"name": "execute", "arguments": {"language": "python", "code": "print(1)"}}}
    messages = [
        {"role": "system", "content": "Use the tool."},
        {"role": "user", "content": "An earlier question"},
        {"role": "assistant", "content": "An earlier answer."},
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        *after_call,
    ]
    return TEMPLATE.render(messages=messages, tools=TOOLS, add_generation_prompt=True)


def last_user_turn(prompt: str) -> str:
    return prompt.rpartition("<|im_start|>user")[2]


def test_after_output_the_model_is_reminded_of_the_request_and_asked_for_the_result() -> None:
    turn = last_user_turn(render({"role": "tool", "content": "['apple', 'fig', 'pear']\n"}))
    assert "Tool output:\n['apple', 'fig', 'pear']" in turn
    assert f"My request was: {QUESTION}\n" in turn  # the latest request, not an earlier one
    assert "includes the result" in turn and "Do not call any tool again" in turn


def test_after_the_loop_refused_a_resent_failed_call_the_model_is_asked_not_to_guess() -> None:
    turn = last_user_turn(render({"role": "tool", "content": REPEATED_FAILURE.format(id="call_1")}))
    assert "do not guess" in turn and "the error the code raised" in turn
    assert "call_1" not in turn  # a small model quotes the refusal's call id to the user otherwise
    assert f"My request was: {QUESTION}\n" in turn and "includes the result" not in turn


def test_several_outputs_share_one_turn_and_the_last_decides() -> None:
    prompt = render({"role": "tool", "content": "1\n"}, {"role": "tool", "content": "2\n"})
    turn = last_user_turn(prompt)
    assert turn.count("Tool output:") == 2 and turn.count("My request was:") == 1
    assert prompt.endswith("<|im_start|>assistant\n")


def test_earlier_calls_are_rendered_as_the_fence_the_model_writes() -> None:
    prompt = render({"role": "tool", "content": "1\n"})
    fence = prompt.partition('```json\n{"name": "execute", "arguments": ')[2].partition("\n```")[0]
    assert json.loads(fence[:-1]) == {"language": "python", "code": "print(1)"} and fence.endswith("}")


def failed_run(error: str) -> dict[str, Any]:
    """A tool message as the code interpreter sends it back when the code raised `error`."""
    return {
        "role": "tool",
        "content": f"Traceback (most recent call last):\n{error}\n[{FINISH_NOTES['error']}: {error}]",
    }


# Errors a small model makes often and cannot repair from the traceback alone: the template
# adds what to change. Each: the error, and what the repair request must then say.
REPAIR_HINTS = {
    "NameError: name 'math' is not defined": ["uses math but never imports", "import of math added"],
    "AttributeError: 'datetime.timedelta' object has no attribute 'strftime'": [
        "calls .strftime on a datetime.timedelta object",
        "(a + b).strftime(...)",
    ],
    "TypeError: 'float' object cannot be interpreted as an integer": [
        "range() takes whole numbers",
        "np.linspace",
    ],
    "TypeError: unsupported operand type(s) for *: 'int' and 'range'": [
        "(*: 'int' and 'range')",
        "list comprehension",
    ],
}


@pytest.mark.parametrize("error", sorted(REPAIR_HINTS))
def test_a_common_error_gets_a_repair_hint(error: str) -> None:
    turn = last_user_turn(render(failed_run(error)))
    assert all(phrase in turn for phrase in REPAIR_HINTS[error]), turn
    assert "Do not answer from memory" in turn and "call the execute tool again" in turn


def test_after_failed_code_the_model_is_asked_to_fix_it_rather_than_answer() -> None:
    turn = last_user_turn(render(failed_run("ZeroDivisionError: division by zero")))
    assert "fix the code and call the execute tool again" in turn and "Do not answer from memory" in turn
    assert "Do not call any tool again" not in turn
    assert not any(phrase in turn for phrases in REPAIR_HINTS.values() for phrase in phrases)


def failed_conversation(error: str) -> list[dict[str, Any]]:
    """A request, a call in the OpenAI wire format, and its failed run."""
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "execute", "arguments": '{"language": "python", "code": "print(1)"}'},
    }
    return [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {**failed_run(error), "tool_call_id": "call_1"},
    ]


def server_rendering(server: LocalServer, messages: list[dict[str, Any]]) -> str:
    """The prompt llama.cpp's own Jinja engine (not jinja2) renders for `messages`."""
    request = urllib.request.Request(
        f"{server.url}/apply-template",
        data=json.dumps({"messages": messages}).encode(),
        headers={"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=30) as answer:
        return str(json.loads(answer.read())["prompt"])


@pytest.mark.parametrize("error", sorted(REPAIR_HINTS))
def test_llama_cpp_renders_the_repair_hints_as_jinja2_does(local_server: LocalServer, error: str) -> None:
    messages = failed_conversation(error)
    turn = last_user_turn(server_rendering(local_server, messages))
    assert all(phrase in turn for phrase in REPAIR_HINTS[error]), turn
    assert turn == last_user_turn(TEMPLATE.render(messages=messages, add_generation_prompt=True))


# Output the code controls, shaped to half-match a hint: the prompt must still render.
HALF_MATCHES = ["x object has no attribute 'y'", "NameError: name '", "unsupported operand type(s) for "]


@pytest.mark.parametrize("error", HALF_MATCHES)
def test_output_that_half_matches_a_hint_still_renders(local_server: LocalServer, error: str) -> None:
    turn = last_user_turn(server_rendering(local_server, failed_conversation(error)))
    assert "Tool output:" in turn and "call the execute tool again" in turn
