"""The local model's chat template, rendered with Jinja: what the model reads after a tool runs.

llama.cpp's server renders the same file with its own Jinja engine (the local-model tests
run it there); these tests pin what each tool outcome asks of the model.
"""

from __future__ import annotations

import json
from typing import Any

from jinja2.sandbox import ImmutableSandboxedEnvironment

from mirastream._run import REPEATED_FAILURE
from mirastream.local import JSON_FENCE_TEMPLATE
from mirastream.tools._code_events import FINISH_NOTES

TOOLS = [{"type": "function", "function": {"name": "execute", "parameters": {"type": "object"}}}]
QUESTION = "Sort these words alphabetically: pear apple fig"


def render(*after_call: dict[str, Any]) -> str:
    template = ImmutableSandboxedEnvironment().from_string(JSON_FENCE_TEMPLATE.read_text(encoding="utf-8"))
    call = {"function": {"name": "execute", "arguments": {"language": "python", "code": "print(1)"}}}
    messages = [
        {"role": "system", "content": "Use the tool."},
        {"role": "user", "content": "An earlier question"},
        {"role": "assistant", "content": "An earlier answer."},
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        *after_call,
    ]
    return template.render(messages=messages, tools=TOOLS, add_generation_prompt=True)


def last_user_turn(prompt: str) -> str:
    return prompt.rpartition("<|im_start|>user")[2]


def test_after_output_the_model_is_reminded_of_the_request_and_asked_for_the_result() -> None:
    turn = last_user_turn(render({"role": "tool", "content": "['apple', 'fig', 'pear']\n"}))
    assert "Tool output:\n['apple', 'fig', 'pear']" in turn
    assert f"My request was: {QUESTION}\n" in turn  # the latest request, not an earlier one
    assert "includes the result" in turn and "Do not call any tool again" in turn


def test_after_failed_code_the_model_is_asked_to_fix_it_rather_than_answer() -> None:
    error = "NameError: name 'math' is not defined"
    failed = f"{error}\n[{FINISH_NOTES['error']}: {error}]"
    turn = last_user_turn(render({"role": "tool", "content": failed}))
    assert "fix the code" in turn and "Do not answer from memory" in turn
    assert "Do not call any tool again" not in turn


def test_after_the_loop_refused_a_resent_failed_call_the_model_is_asked_not_to_guess() -> None:
    turn = last_user_turn(render({"role": "tool", "content": REPEATED_FAILURE.format(id="call_1")}))
    assert "do not guess" in turn and "failed and why" in turn
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
