"""Open Interpreter's LMC stream of a run, exactly as Open Interpreter streams it.

Unit tests feed the translator hand-built event sequences (with real chunks from the
replay server); end-to-end tests stream the seed's own run through each provider's SDK,
run its code, and compare the translated stream with the seed's 30 dicts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mirastream import ResponseChunk
from mirastream._lmc import LMCMessage, LMCTranslator, lmc_messages
from mirastream.events import (
    ActiveLineEvent,
    CodeEvent,
    ConfirmationEvent,
    ConsoleEvent,
    ImageEvent,
    MarkerEvent,
    StatusEvent,
)
from mirastream.testing import Call, ReplayServer, Text, Thinking, Turn
from mirastream.tools import CodeInterpreter

from .seed_runs import (
    ANSWER,
    ANSWER_PIECES,
    CODE,
    CODE_PIECES,
    MODES,
    OUTPUT,
    PROVIDERS,
    QUESTION,
    SEED_LMC,
    open_stream,
    prompt_class,
    read,
    replay,
    replay_server,
    seed_for,
    seed_turns,
)

__all__ = ["replay", "replay_server"]  # fixtures


@pytest.fixture(scope="module")
def interpreter() -> Iterator[CodeInterpreter]:
    """One interpreter for the module: the consumer approves each run, as Open Interpreter's user."""
    code = CodeInterpreter(confirm="ask")
    yield code
    code.close()


def translate(items: list[Any]) -> list[LMCMessage]:
    translator = LMCTranslator()
    return [message for item in items for message in translator.feed(item)] + translator.finish()


def text_chunks(replay: ReplayServer, *turn: Any) -> list[ResponseChunk]:
    """The real chunks a scripted turn streams (OpenAI's wire), usage chunk included."""
    replay.queue(Turn(*turn, usage=(5, 5)))
    items, _, error = read(open_stream(prompt_class("openai", [])(question=QUESTION), "sync"), "sync")
    assert error is None
    assert all(isinstance(item, ResponseChunk) for item in items)
    return items


def code_block(language: str, call_id: str, *pieces: str) -> list[Any]:
    return [
        MarkerEvent("assistant", "code", language, start=True),
        *(CodeEvent(language, piece, call_id) for piece in pieces),
        MarkerEvent("assistant", "code", language),
    ]


def console(*events: Any) -> list[Any]:
    return [MarkerEvent("computer", "console", start=True), *events, MarkerEvent("computer", "console")]


def code(language: str, content: str) -> dict[str, Any]:
    return {"role": "assistant", "type": "code", "format": language, "content": content}


def test_the_seed_run_built_by_hand_gives_the_seed_stream(replay: ReplayServer) -> None:
    answer = text_chunks(replay, Text(*ANSWER_PIECES))
    items = [
        StatusEvent("run.created", 0),
        *code_block("python", "call_1", *CODE_PIECES),
        ConfirmationEvent("python", CODE, "call_1"),
        *console(ActiveLineEvent(1), ConsoleEvent(OUTPUT), ActiveLineEvent(None)),
        *answer,
        StatusEvent("run.completed", 2),
    ]
    assert translate(items) == SEED_LMC


def test_usage_and_tool_call_chunks_give_nothing(replay: ReplayServer) -> None:
    chunks = text_chunks(replay, Call("get_weather", ['{"city": ', '"Paris"}']))
    assert any(chunk.tool_calls for chunk in chunks) and any(chunk.usage for chunk in chunks)
    assert translate(chunks) == []


def test_reasoning_text_is_not_part_of_the_message(replay: ReplayServer) -> None:
    chunks = text_chunks(replay, Thinking("Divide."), Text("Done."))
    assert any(chunk.thinking for chunk in chunks)
    assert translate(chunks) == [
        {"role": "assistant", "type": "message", "start": True},
        {"role": "assistant", "type": "message", "content": "Done."},
        {"role": "assistant", "type": "message", "end": True},
    ]


def test_the_message_block_closes_before_a_code_block_starts(replay: ReplayServer) -> None:
    items = [*text_chunks(replay, Text("Let me", " compute.")), *code_block("python", "c", "1 + 1")]
    assert translate(items) == [
        {"role": "assistant", "type": "message", "start": True},
        {"role": "assistant", "type": "message", "content": "Let me"},
        {"role": "assistant", "type": "message", "content": " compute."},
        {"role": "assistant", "type": "message", "end": True},
        {"role": "assistant", "type": "code", "format": "python", "start": True},
        code("python", "1 + 1"),
        {"role": "assistant", "type": "code", "format": "python", "end": True},
    ]


def test_interleaved_parallel_calls_come_one_after_the_other() -> None:
    items = [
        MarkerEvent("assistant", "code", "python", start=True),
        CodeEvent("python", "a = 1", "call_a"),
        MarkerEvent("assistant", "code", "shell", start=True),
        CodeEvent("shell", "echo", "call_b"),
        CodeEvent("python", "\nprint(a)", "call_a"),
        MarkerEvent("assistant", "code", "python"),
        CodeEvent("shell", " hi", "call_b"),
        MarkerEvent("assistant", "code", "shell"),
    ]
    translator = LMCTranslator()
    shown = [translator.feed(item) for item in items]
    assert shown[3] == []  # the second call's code waits for the first block to end
    assert [message for messages in shown for message in messages] + translator.finish() == [
        {"role": "assistant", "type": "code", "format": "python", "start": True},
        code("python", "a = 1"),
        code("python", "\nprint(a)"),
        {"role": "assistant", "type": "code", "format": "python", "end": True},
        {"role": "assistant", "type": "code", "format": "shell", "start": True},
        code("shell", "echo"),
        code("shell", " hi"),
        {"role": "assistant", "type": "code", "format": "shell", "end": True},
    ]


def test_consecutive_calls_in_one_language_are_separate_blocks() -> None:
    items = [*code_block("python", "a", "1"), *code_block("python", "b", "2")]
    flags = [message for message in translate(items) if "content" not in message]
    assert [("start" in flag, "end" in flag) for flag in flags] == [(True, False), (False, True)] * 2


def test_empty_output_is_dropped_and_an_image_gets_its_own_block() -> None:
    items = console(
        ActiveLineEvent(1),
        ConsoleEvent(""),
        ConsoleEvent("a\n"),
        ImageEvent("image/png", "iVBOR"),
        ConsoleEvent("b\n"),
    )
    assert translate(items) == [
        {"role": "computer", "type": "console", "start": True},
        {"role": "computer", "type": "console", "format": "active_line", "content": "1"},
        {"role": "computer", "type": "console", "format": "output", "content": "a\n"},
        {"role": "computer", "type": "console", "end": True},
        {"role": "computer", "type": "image", "format": "base64.png", "start": True},
        {"role": "computer", "type": "image", "format": "base64.png", "content": "iVBOR"},
        {"role": "computer", "type": "image", "format": "base64.png", "end": True},
        {"role": "computer", "type": "console", "start": True},
        {"role": "computer", "type": "console", "format": "output", "content": "b\n"},
        {"role": "computer", "type": "console", "end": True},
    ]


def test_code_whose_end_never_came_is_closed_at_the_end() -> None:
    translator = LMCTranslator()
    translator.feed(MarkerEvent("assistant", "code", "python", start=True))
    assert translator.feed(CodeEvent("python", "x", "c")) == [
        {"role": "assistant", "type": "code", "format": "python", "start": True},
        code("python", "x"),
    ]
    assert translator.finish() == [{"role": "assistant", "type": "code", "format": "python", "end": True}]


def test_the_confirmation_answers_open_interpreters_executing_check() -> None:
    messages = translate([ConfirmationEvent("python", CODE), MarkerEvent("computer", "console", start=True)])
    confirmation = messages[0]
    assert confirmation == SEED_LMC[6] and isinstance(confirmation, LMCMessage)
    assert "executing" in confirmation and "executing" not in list(confirmation)
    assert confirmation["executing"] == {"code": CODE, "language": "python"}
    assert confirmation.get("executing") == {"code": CODE, "language": "python"}
    assert confirmation.get("type") == "confirmation" and "start" not in confirmation
    others = translate(code_block("python", "c", "1"))
    assert not any("executing" in message for message in others)
    assert others[0].get("executing", "none") == "none"
    with pytest.raises(KeyError):
        others[0]["executing"]


def test_consolidated_messages_are_open_interpreters() -> None:
    assert lmc_messages(SEED_LMC) == [
        {"role": "assistant", "type": "code", "format": "python", "content": CODE},
        {"role": "computer", "type": "console", "format": "output", "content": OUTPUT},
        {"role": "assistant", "type": "message", "content": ANSWER},
    ]


def test_code_that_printed_nothing_gets_an_empty_output_message() -> None:
    streamed = translate(
        [*code_block("python", "c", "x = 1"), *console(ActiveLineEvent(1), ActiveLineEvent(None))]
    )
    assert lmc_messages(streamed) == [
        code("python", "x = 1"),
        {"role": "computer", "type": "console", "format": "output", "content": ""},
    ]


def test_two_runs_are_two_code_and_two_output_messages() -> None:
    run = [*code_block("python", "a", "1"), ConfirmationEvent("python", "1"), *console(ConsoleEvent("1\n"))]
    again = [*code_block("python", "b", "2"), ConfirmationEvent("python", "2"), *console(ConsoleEvent("2\n"))]
    assert [message["content"] for message in lmc_messages(translate(run + again))] == [
        "1",
        "1\n",
        "2",
        "2\n",
    ]


# The seed's run, end to end --------------------------------------------------------------


def approve(item: Any) -> None:
    if isinstance(item, ConfirmationEvent):
        item.approve()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_seed_run_streams_the_seed_lmc(
    provider: str, mode: str, replay: ReplayServer, interpreter: CodeInterpreter
) -> None:
    replay.queue(*seed_turns())
    prompt = prompt_class(provider, [interpreter])(question=QUESTION)
    translator = LMCTranslator()
    streamed: list[LMCMessage] = []

    def on_item(item: Any) -> None:
        approve(item)
        streamed.extend(translator.feed(item))

    _, stream, error = read(open_stream(prompt, mode), mode, on_item)
    assert error is None
    streamed.extend(translator.finish())

    assert streamed == seed_for(provider)
    assert len(streamed) == (30 if provider != "gemini" else 27)
    assert lmc_messages(streamed) == lmc_messages(SEED_LMC)
    assert stream.response.text == ANSWER


@pytest.mark.parametrize("mode", MODES)
def test_stopping_at_executing_means_the_code_never_runs(
    mode: str, replay: ReplayServer, interpreter: CodeInterpreter
) -> None:
    """Open Interpreter's docs loop: `if "executing" in chunk: break` before the code runs."""
    replay.queue(*seed_turns())
    prompt = prompt_class("openai", [interpreter])(question=QUESTION)
    translator = LMCTranslator()
    streamed: list[LMCMessage] = []

    def on_item(item: Any) -> bool:
        for chunk in translator.feed(item):
            streamed.append(chunk)
            if "executing" in chunk:
                return True  # the user pressed something other than ENTER
        return False

    items, stream, error = read(open_stream(prompt, mode), mode, on_item)
    assert error is None
    assert streamed == SEED_LMC[:7]
    assert not any(isinstance(item, ConsoleEvent) for item in items)
    assert stream.response.interrupted and len(replay.requests) == 1
