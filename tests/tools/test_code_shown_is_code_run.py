"""Code shown is code run: what a user sees before approving is exactly what executes.

Each case is an attack on the confirmation: terminal escapes that hide a line, arguments that
arrive before the tool's name, choices listed out of order, and keys given twice. The wire
bodies are OpenAI Chat Completions streams, sent by the loopback server to the real SDK.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from mirastream.events import CodeEvent, ConfirmationEvent, ConsoleEvent
from mirastream.tools import CodeInterpreter
from mirastream.tools.execution import Limits

from ..loopback import LoopbackServer, Reply
from .test_tool_loop import MODES, connect, prompt_class, run, tool_results

__all__ = ["connect"]  # fixture

ESC = "\x1b"
HIDDEN_LINE = "print('HIDDEN LINE RAN')"


def sse(*payloads: dict[str, Any]) -> bytes:
    events = [f"data: {json.dumps(payload)}\n\n" for payload in payloads]
    return ("".join(events) + "data: [DONE]\n\n").encode()


def chunk(*choices: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o",
        "choices": list(choices),
    }


def call_delta(
    index: int = 0, *, id: str | None = None, name: str | None = None, arguments: str = "", choice: int = 0
) -> dict[str, Any]:
    function: dict[str, Any] = {"arguments": arguments}
    if name is not None:
        function["name"] = name
    piece: dict[str, Any] = {"index": index, "function": function}
    if id is not None:
        piece.update(id=id, type="function")
    return {"index": choice, "delta": {"tool_calls": [piece]}, "finish_reason": None}


def finish(reason: str, choice: int = 0) -> dict[str, Any]:
    return {"index": choice, "delta": {}, "finish_reason": reason}


ANSWER = sse(
    chunk({"index": 0, "delta": {"role": "assistant", "content": "Done."}, "finish_reason": None}),
    chunk(finish("stop")),
)


@pytest.fixture(scope="module")
def interpreter() -> Iterator[CodeInterpreter]:
    code = CodeInterpreter(limits=Limits(timeout=20))
    yield code
    code.close()


def stream_of(interpreter: CodeInterpreter, mode: str, **params: Any) -> Any:
    prompt = prompt_class("openai", [interpreter])(question="hi")
    return lambda: prompt.stream(**params) if mode == "sync" else prompt.stream_async(**params)


def shown_code(items: list[Any]) -> str:
    return "".join(item.content for item in items if isinstance(item, CodeEvent))


def printed(items: list[Any]) -> str:
    return "".join(item.content for item in items)


@pytest.mark.parametrize("mode", MODES)
def test_escapes_in_code_are_shown_not_obeyed(
    mode: str, server: LoopbackServer, connect: Any, interpreter: CodeInterpreter
) -> None:
    connect("openai")
    code = f"print('hello')  #{ESC}[2K{ESC}[1A\n{HIDDEN_LINE}\nprint('{ESC}[31mred{ESC}[0m')"
    arguments = json.dumps({"language": "python", "code": code})
    server.queue(
        Reply(
            sse(
                chunk(call_delta(id="call_1", name="execute", arguments=arguments)),
                chunk(finish("tool_calls")),
            )
        ),
        Reply(ANSWER),
    )
    confirmations: list[ConfirmationEvent] = []

    def look(item: Any) -> None:
        if isinstance(item, ConfirmationEvent):
            confirmations.append(item)

    items, _ = run(stream_of(interpreter, mode), mode, look)
    assert ESC not in printed(items)  # nothing printed can move the cursor or erase a line
    assert f"\\x1b[2K\\x1b[1A\n{HIDDEN_LINE}" in shown_code(items)  # the hidden line is in plain view
    assert "".join(item.code for item in items if isinstance(item, CodeEvent)) == code  # raw kept
    (confirmation,) = confirmations
    assert confirmation.code == code and ESC not in confirmation.visible_code
    assert ESC not in json.dumps(confirmation.to_lmc())
    console = [item for item in items if isinstance(item, ConsoleEvent)]
    assert "\\x1b[31mred\\x1b[0m" in "".join(item.content for item in console)
    assert f"{ESC}[31mred{ESC}[0m" in "".join(item.data for item in console)
    with pytest.raises(AttributeError):
        confirmation.code = "print('swapped')"  # type: ignore[misc]


@pytest.mark.parametrize("mode", MODES)
def test_arguments_before_the_name_are_shown(
    mode: str, server: LoopbackServer, connect: Any, interpreter: CodeInterpreter
) -> None:
    connect("openai")
    server.queue(
        Reply(
            sse(
                chunk(call_delta(arguments='{"language": "python", "code": "print(6 * 7)')),
                chunk(call_delta(id="call_1", name="execute", arguments='\\nprint(\\"second\\")"}')),
                chunk(finish("tool_calls")),
            )
        ),
        Reply(ANSWER),
    )
    items, _ = run(stream_of(interpreter, mode), mode)
    (confirmation,) = [item for item in items if isinstance(item, ConfirmationEvent)]
    assert shown_code(items) == confirmation.code == 'print(6 * 7)\nprint("second")'
    assert "42\nsecond\n" in printed(items)


@pytest.mark.parametrize("mode", MODES)
def test_choice_one_listed_first_shows_the_code_of_choice_zero(
    mode: str, server: LoopbackServer, connect: Any, interpreter: CodeInterpreter
) -> None:
    connect("openai")
    zero = json.dumps({"language": "python", "code": "print('choice zero')"})
    one = json.dumps({"language": "python", "code": "print('choice one')"})
    server.queue(
        Reply(
            sse(
                chunk(
                    call_delta(id="call_1", name="execute", arguments=one, choice=1),
                    call_delta(id="call_0", name="execute", arguments=zero, choice=0),
                ),
                chunk(finish("tool_calls", choice=1), finish("tool_calls", choice=0)),
            )
        ),
        Reply(ANSWER),
    )
    items, _ = run(stream_of(interpreter, mode, n=2), mode)
    (confirmation,) = [item for item in items if isinstance(item, ConfirmationEvent)]
    assert shown_code(items) == confirmation.code == "print('choice zero')"
    assert confirmation.call_id == "call_0"
    assert "choice one" not in printed(items).replace(shown_code(items), "")


@pytest.mark.parametrize("mode", MODES)
def test_duplicate_keys_are_an_error_sent_back_and_nothing_runs(
    mode: str, server: LoopbackServer, connect: Any, interpreter: CodeInterpreter
) -> None:
    connect("openai")
    arguments = '{"language": "shell", "code": "echo shown", "language": "python", "code": "print(\'ran\')"}'
    server.queue(
        Reply(
            sse(
                chunk(call_delta(id="call_1", name="execute", arguments=arguments)),
                chunk(finish("tool_calls")),
            )
        ),
        Reply(ANSWER),
    )
    items, _ = run(stream_of(interpreter, mode), mode)
    assert not any(isinstance(item, (ConfirmationEvent, ConsoleEvent)) for item in items)
    ((call_id, result),) = tool_results("openai", server.requests[1])
    assert call_id == "call_1"
    assert "repeat the key(s) 'language', 'code'" in result
