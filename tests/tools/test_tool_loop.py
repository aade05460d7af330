"""The tool loop end to end: real SDKs, loopback transcripts, real code execution.

Turn 1 of each transcript calls a tool; turn 2 answers. The tests check what the stream
yields (chunks and events, in order) and what the server received (the tool results, in
each provider's own format).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import pytest

from mirastream import ResponseChunk
from mirastream.errors import ConfigurationError, MaxStepsReached
from mirastream.events import ConfirmationEvent, ConsoleEvent, Event
from mirastream.tools import CodeInterpreter, FunctionTool
from mirastream.tools.execution import Limits

from ..loopback import LoopbackServer, Recorded, Reply

CODE = 'x = 34 / 24\nprint("ratio:", round(x, 3))\nx'
FINAL = "34 / 24 is about 1.417."
PROVIDERS = ["openai", "anthropic", "gemini"]
MODES = ["sync", "async"]


def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict[str, Any]:
    """Current weather for a city.

    Args:
        city: the city's name.
        unit: the temperature unit.
    """
    return {"city": city, "temperature": 21 if unit == "celsius" else 70, "unit": unit}


async def get_weather_async(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict[str, Any]:
    """Current weather for a city."""
    await asyncio.sleep(0)
    return get_weather(city, unit)


ASYNC_WEATHER = FunctionTool.from_function(get_weather_async, name="get_weather")


def prompt_class(provider: str, tools: list[Any], max_steps: int = 10) -> type[Any]:
    """A prompt class of `provider` with `tools`."""
    if provider == "openai":
        from mirastream.openai import OpenAICallParams as Params
        from mirastream.openai import OpenAIPrompt as Base

        params = Params(model="gpt-4o", tools=tools)
    elif provider == "anthropic":
        from mirastream.anthropic import AnthropicCallParams as Params  # type: ignore[assignment]
        from mirastream.anthropic import AnthropicPrompt as Base  # type: ignore[assignment]

        params = Params(model="claude-sonnet-4-6", max_tokens=512, tools=tools)
    else:
        from mirastream.gemini import GeminiCallParams as Params  # type: ignore[assignment]
        from mirastream.gemini import GeminiPrompt as Base  # type: ignore[assignment]

        params = Params(model="gemini-2.5-flash", tools=tools)

    class Analyst(Base):  # type: ignore[valid-type,misc]
        prompt_template = "USER: {question}"
        question: str
        call_params = params

    Analyst.max_steps = max_steps
    return Analyst


@pytest.fixture
def connect(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    def setup(provider: str) -> None:
        if provider == "openai":
            monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key")
            monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
        elif provider == "anthropic":
            monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
            monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        else:
            monkeypatch.setenv("GEMINI_API_KEY", "gemini-test-key")
            monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.url)

    return setup


@pytest.fixture(scope="module")
def interpreter() -> Iterator[CodeInterpreter]:
    """One interpreter (so one kernel) for the module's tests; its sessions persist."""
    code = CodeInterpreter(limits=Limits(timeout=20))
    yield code
    code.close()


def run(
    stream_factory: Callable[[], Any], mode: str, on_event: Callable[[Any], Any] | None = None
) -> tuple[list[Any], Any]:
    """Read a whole stream; `on_event` sees each item and may return "stop" to break."""
    items: list[Any] = []
    if mode == "sync":
        stream = stream_factory()
        with stream:
            for item in stream:
                items.append(item)
                if on_event is not None and on_event(item) == "stop":
                    break
        return items, stream

    async def consume() -> tuple[list[Any], Any]:
        async with stream_factory() as stream:
            async for item in stream:
                items.append(item)
                if on_event is not None and on_event(item) == "stop":
                    break
        return items, stream

    return asyncio.run(consume())


def tool_results(provider: str, request: Recorded) -> list[tuple[str, str]]:
    """(call id or name, output text) of the tool results in a request, in the provider's format."""
    body = request.json()
    if provider == "openai":
        return [(m["tool_call_id"], m["content"]) for m in body["messages"] if m["role"] == "tool"]
    if provider == "anthropic":
        results = []
        for message in body["messages"]:
            if message["role"] == "user" and isinstance(message["content"], list):
                for block in message["content"]:
                    if block.get("type") == "tool_result":
                        content = block["content"]
                        text = (
                            content
                            if isinstance(content, str)
                            else "".join(b.get("text", "") for b in content)
                        )
                        results.append((block["tool_use_id"], text))
        return results
    results = []
    for content in body["contents"]:
        for part in content["parts"]:
            response = part.get("functionResponse") or part.get("function_response")
            if response:
                payload = response["response"]
                results.append((response.get("id") or response["name"], json.dumps(payload)))
    return results


def queue_turns(server: LoopbackServer, provider: str, first: str, second: str) -> None:
    server.queue(Reply.sse(f"tools/{provider}_{first}.sse"), Reply.sse(f"tools/{provider}_{second}.sse"))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_code_interpreter_round_trip(
    provider: str,
    mode: str,
    server: LoopbackServer,
    connect: Callable[[str], None],
    interpreter: CodeInterpreter,
) -> None:
    connect(provider)
    queue_turns(server, provider, "execute", "final")
    prompt = prompt_class(provider, [interpreter])(question="What is 34/24? Compute it.")
    items, stream = run(lambda: prompt.stream() if mode == "sync" else prompt.stream_async(), mode)

    kinds = [
        (item.role, item.type, item.format, item.start, item.end) for item in items if isinstance(item, Event)
    ]
    code_start = ("assistant", "code", "python", True, False)
    code_end = ("assistant", "code", "python", False, True)
    confirmation = ("computer", "confirmation", "execution", False, False)
    console_start = ("computer", "console", None, True, False)
    console_end = ("computer", "console", None, False, True)
    order = [kinds.index(k) for k in (code_start, code_end, confirmation, console_start, console_end)]
    assert order == sorted(order), kinds

    code = "".join(
        item.content
        for item in items
        if isinstance(item, Event) and item.type == "code" and not (item.start or item.end)
    )
    assert code == CODE
    output = "".join(item.content for item in items if isinstance(item, ConsoleEvent))
    assert output == "ratio: 1.417\n1.4166666666666667\n"
    lines = [item.line for item in items if isinstance(item, Event) and item.format == "active_line"]
    assert lines[0] == 1 and lines[-1] is None

    texts = [item.content for item in items if isinstance(item, ResponseChunk)]
    assert "".join(texts) == "Let me compute." + FINAL

    # the model got the output back, as a tool result in its own format
    assert len(server.requests) == 2
    ((_, result),) = tool_results(provider, server.requests[1])
    assert "ratio: 1.417" in result and "1.4166666666666667" in result

    response = stream.response
    assert response.text == FINAL
    assert len(response.steps) == 2
    assert response.steps[0].response.tool_calls[0].name == "execute"
    assert response.steps[0].results[0].output.startswith("ratio: 1.417")
    assert response.usage is not None
    first_usage = response.steps[0].response.usage
    last_usage = response.steps[1].response.usage
    assert first_usage is not None and last_usage is not None
    assert response.usage.total_tokens == first_usage.total_tokens + last_usage.total_tokens


@pytest.mark.parametrize("mode", MODES)
def test_lmc_export_is_open_interpreters_format(
    mode: str, server: LoopbackServer, connect: Callable[[str], None], interpreter: CodeInterpreter
) -> None:
    connect("openai")
    queue_turns(server, "openai", "execute", "final")
    prompt = prompt_class("openai", [interpreter])(question="What is 34/24? Compute it.")
    items, _ = run(lambda: prompt.stream() if mode == "sync" else prompt.stream_async(), mode)
    lmc = [item.to_lmc() for item in items]
    assert {"role": "assistant", "type": "code", "format": "python", "start": True} in lmc
    assert {"role": "assistant", "type": "code", "format": "python", "end": True} in lmc
    assert {
        "role": "computer",
        "type": "confirmation",
        "format": "execution",
        "content": {"type": "code", "format": "python", "content": CODE},
    } in lmc
    assert {"role": "computer", "type": "console", "format": "active_line", "content": "1"} in lmc
    assert {"role": "computer", "type": "console", "format": "output", "content": "ratio: 1.417\n"} in lmc
    assert {"role": "computer", "type": "console", "start": True} in lmc
    assert {"role": "computer", "type": "console", "end": True} in lmc
    assert {"role": "assistant", "type": "message", "content": "Let"} in lmc


@pytest.mark.parametrize("mode", MODES)
def test_denied_code_never_runs_and_the_model_is_told(
    mode: str, server: LoopbackServer, connect: Callable[[str], None], tmp_path: Path
) -> None:
    connect("openai")
    queue_turns(server, "openai", "shell", "final")
    marker = tmp_path / "ran"
    interpreter = CodeInterpreter(limits=Limits(workdir=tmp_path))
    prompt = prompt_class("openai", [interpreter])(question="Run it")

    def deny(item: Any) -> None:
        if isinstance(item, ConfirmationEvent):
            item.deny()

    items, stream = run(lambda: prompt.stream() if mode == "sync" else prompt.stream_async(), mode, deny)
    assert not any(isinstance(item, ConsoleEvent) for item in items)
    assert not marker.exists()
    ((_, result),) = tool_results("openai", server.requests[1])
    assert "declined" in result
    assert stream.response.steps[0].results[0].is_error
    interpreter.close()


@pytest.mark.parametrize("mode", MODES)
def test_stopping_at_the_confirmation_means_the_code_never_runs(
    mode: str, server: LoopbackServer, connect: Callable[[str], None], tmp_path: Path
) -> None:
    connect("openai")
    server.queue(Reply.sse("tools/openai_shell.sse"))
    interpreter = CodeInterpreter(limits=Limits(workdir=tmp_path))
    prompt = prompt_class("openai", [interpreter])(question="Run it")
    items, stream = run(
        lambda: prompt.stream() if mode == "sync" else prompt.stream_async(),
        mode,
        lambda item: "stop" if isinstance(item, ConfirmationEvent) else None,
    )
    assert isinstance(items[-1], ConfirmationEvent)
    assert len(server.requests) == 1
    assert stream.response.interrupted
    assert "shell" not in interpreter._sessions  # its session was never started (Python's prewarms)
    interpreter.close()


@pytest.mark.parametrize("mode", MODES)
def test_the_child_environment_has_no_api_keys(
    mode: str, server: LoopbackServer, connect: Callable[[str], None], interpreter: CodeInterpreter
) -> None:
    connect("openai")  # sets OPENAI_API_KEY in this process
    queue_turns(server, "openai", "shell", "final")
    prompt = prompt_class("openai", [interpreter])(question="Show the key")
    items, _ = run(lambda: prompt.stream() if mode == "sync" else prompt.stream_async(), mode)
    output = "".join(item.content for item in items if isinstance(item, ConsoleEvent))
    assert output == "-end\n"
    assert "sk-test-key" not in server.requests[1].body.decode()


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    ("function", "mode"),
    [(get_weather, "sync"), (get_weather, "async"), (ASYNC_WEATHER, "async")],
    ids=["sync_fn-sync", "sync_fn-async", "async_fn-async"],
)
def test_function_tool_round_trip(
    provider: str, mode: str, function: Any, server: LoopbackServer, connect: Callable[[str], None]
) -> None:
    connect(provider)
    queue_turns(server, provider, "weather", "weather_final")
    prompt = prompt_class(provider, [function])(question="Weather in Paris?")
    items, stream = run(lambda: prompt.stream() if mode == "sync" else prompt.stream_async(), mode)
    ((_, result),) = tool_results(provider, server.requests[1])
    assert json.loads(result) == {"city": "Paris", "temperature": 21, "unit": "celsius"}
    assert stream.response.text == "It is 21 C in Paris."
    assert stream.response.steps[0].results[0].is_error is False
    deltas = [delta for item in items for delta in item.tool_calls]
    assert deltas[0].name == "get_weather"


def test_async_function_in_a_sync_stream_is_a_clear_error_for_the_model(
    server: LoopbackServer, connect: Callable[[str], None]
) -> None:
    connect("openai")
    queue_turns(server, "openai", "weather", "weather_final")
    prompt = prompt_class("openai", [ASYNC_WEATHER])(question="Weather in Paris?")
    response = prompt.stream().collect()
    result = response.steps[0].results[0]
    assert result.is_error
    assert "stream_async" in result.output


@pytest.mark.parametrize("mode", MODES)
def test_invalid_arguments_go_back_to_the_model(
    mode: str, server: LoopbackServer, connect: Callable[[str], None]
) -> None:
    connect("openai")
    queue_turns(server, "openai", "weather_bad", "weather_final")
    prompt = prompt_class("openai", [get_weather])(question="Weather in Paris?")
    _, stream = run(lambda: prompt.stream() if mode == "sync" else prompt.stream_async(), mode)
    ((call_id, result),) = tool_results("openai", server.requests[1])
    assert call_id == "call_weather_bad"
    assert "unit" in result and "invalid argument" in result.lower()
    assert stream.response.steps[0].results[0].is_error


@pytest.mark.parametrize("mode", MODES)
def test_max_steps_is_a_typed_stop(mode: str, server: LoopbackServer, connect: Callable[[str], None]) -> None:
    connect("openai")
    server.queue(Reply.sse("tools/openai_weather.sse"))
    prompt = prompt_class("openai", [get_weather], max_steps=1)(question="Weather in Paris?")
    with pytest.raises(MaxStepsReached) as caught:
        run(lambda: prompt.stream() if mode == "sync" else prompt.stream_async(), mode)
    assert caught.value.response is not None
    assert len(caught.value.response.steps) == 1
    assert caught.value.response.tool_calls[0].name == "get_weather"
    assert len(server.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_status_events_only_when_asked(
    mode: str, server: LoopbackServer, connect: Callable[[str], None]
) -> None:
    connect("openai")
    queue_turns(server, "openai", "weather", "weather_final")
    prompt = prompt_class("openai", [get_weather])(question="Weather in Paris?")
    items, _ = run(lambda: (prompt.stream() if mode == "sync" else prompt.stream_async()).with_status(), mode)
    status = [
        (item.format, getattr(item, "step", None))
        for item in items
        if isinstance(item, Event) and item.type == "status"
    ]
    assert status == [("run.created", 0), ("step.started", 1), ("step.completed", 1), ("run.completed", 2)]

    queue_turns(server, "openai", "weather", "weather_final")
    plain, _ = run(lambda: prompt.stream() if mode == "sync" else prompt.stream_async(), mode)
    assert not [item for item in plain if isinstance(item, Event) and item.type == "status"]


def test_anthropic_asks_for_fine_grained_streaming_of_the_code(
    server: LoopbackServer, connect: Callable[[str], None], interpreter: CodeInterpreter
) -> None:
    connect("anthropic")
    queue_turns(server, "anthropic", "execute", "final")
    prompt_class("anthropic", [interpreter])(question="What is 34/24?").stream().collect()
    (tool,) = server.requests[0].json()["tools"]
    assert tool["name"] == "execute" and tool["eager_input_streaming"] is True
    assert tool["input_schema"]["required"] == ["language", "code"]


def test_gemini_gets_its_thought_signature_back_with_the_result(
    server: LoopbackServer, connect: Callable[[str], None]
) -> None:
    connect("gemini")
    queue_turns(server, "gemini", "weather", "weather_final")
    prompt_class("gemini", [get_weather])(question="Weather in Paris?").stream().collect()
    contents = server.requests[1].json()["contents"]
    model_turn = next(content for content in contents if content["role"] == "model")
    call_part = next(
        part for part in model_turn["parts"] if "functionCall" in part or "function_call" in part
    )
    assert (
        call_part.get("thoughtSignature") or call_part.get("thought_signature")
    ) == "CiQBjz1rX2V4ZWN1dGUtc2lnbmF0dXJl"


def _children() -> set[int]:
    """The pids of this process's living child processes (and their descendants)."""
    import os

    me = str(os.getpid())
    parents: dict[str, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents.setdefault(fields[1], []).append(entry.name)
    found: set[int] = set()
    todo = [me]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.add(int(child))
            todo.append(child)
    return found


def _kernels(pids: set[int]) -> set[int]:
    """The Jupyter kernels among `pids` (a prewarmed Python session's, in the shell tests).

    One that is being launched has the command line of this process (a fork, before its
    `exec`); one that is ending has none, and is known by its name, `python*` (or `bwrap`,
    for the processes of its sandbox).
    """
    ours = Path("/proc/self/cmdline").read_bytes()
    found = set()
    for pid in pids:
        try:
            command = (Path("/proc") / str(pid) / "cmdline").read_bytes()
            name = (Path("/proc") / str(pid) / "comm").read_text()
            ending = not command and name.startswith(("python", "bwrap"))
        except OSError:
            continue
        if b"ipykernel_launcher" in command or command == ours or ending:
            found.add(pid)
    return found


@pytest.mark.parametrize("mode", MODES)
def test_an_infinite_loop_is_stopped_and_the_model_is_told(
    mode: str, server: LoopbackServer, connect: Callable[[str], None]
) -> None:
    connect("openai")
    queue_turns(server, "openai", "loop", "final")
    interpreter = CodeInterpreter(confirm="auto", limits=Limits(timeout=1.5, grace=1.0))
    prompt = prompt_class("openai", [interpreter])(question="Loop forever")
    _, stream = run(lambda: prompt.stream() if mode == "sync" else prompt.stream_async(), mode)
    ((_, result),) = tool_results("openai", server.requests[1])
    assert "time limit" in result
    assert stream.response.text == FINAL
    interpreter.close()


@pytest.mark.parametrize("mode", MODES)
def test_an_output_flood_reaches_the_user_whole_and_the_model_capped(
    mode: str, server: LoopbackServer, connect: Callable[[str], None], interpreter: CodeInterpreter
) -> None:
    connect("openai")
    queue_turns(server, "openai", "flood", "final")
    prompt = prompt_class("openai", [interpreter])(question="Print a lot")
    items, _ = run(lambda: prompt.stream() if mode == "sync" else prompt.stream_async(), mode)
    shown = "".join(item.content for item in items if isinstance(item, ConsoleEvent))
    assert shown.count("\n") == 20000
    assert shown.startswith("line 0 ") and shown.endswith("line 19999 " + "x" * 40 + "\n")
    ((_, result),) = tool_results("openai", server.requests[1])
    assert len(result) < interpreter.max_output_chars + 200
    assert result.startswith("line 0 ") and "characters of output omitted" in result
    assert result.rstrip().endswith("line 19999 " + "x" * 40)


@pytest.mark.parametrize("mode", MODES)
def test_closing_mid_run_stops_the_code_and_leaves_no_process(
    mode: str, server: LoopbackServer, connect: Callable[[str], None]
) -> None:
    connect("openai")
    server.queue(Reply.sse("tools/openai_sleep.sse"))
    before = _children()
    interpreter = CodeInterpreter(confirm="auto")
    prompt = prompt_class("openai", [interpreter])(question="Sleep")
    _, stream = run(
        lambda: prompt.stream() if mode == "sync" else prompt.stream_async(),
        mode,
        lambda item: "stop" if isinstance(item, ConsoleEvent) and "started" in item.content else None,
    )
    assert stream.response.interrupted
    started = _children() - before
    assert started - _kernels(started) == set()  # the shell and its `sleep` are gone
    assert len(server.requests) == 1
    interpreter.close()
    deadline = time.monotonic() + 5
    while _children() - before and time.monotonic() < deadline:
        time.sleep(0.02)  # a prewarm stopped while its kernel started ends on its own
    assert _children() - before == set()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_parallel_calls_are_all_run_and_answered_in_order(
    provider: str, mode: str, server: LoopbackServer, connect: Callable[[str], None]
) -> None:
    connect(provider)
    server.queue(Reply.sse(f"{provider}/tool_calls.sse"), Reply.sse(f"tools/{provider}_weather_final.sse"))
    prompt = prompt_class(provider, [get_weather])(question="Weather in Paris and Tokyo?")
    _, stream = run(lambda: prompt.stream() if mode == "sync" else prompt.stream_async(), mode)
    results = tool_results(provider, server.requests[1])
    assert [json.loads(output)["city"] for _, output in results] == ["Paris", "Tøkyo"]
    calls = stream.response.steps[0].response.tool_calls
    if provider != "gemini":  # Gemini matches results by name; the others by call id
        assert [call_id for call_id, _ in results] == [call.id for call in calls]
    assert [result.call.id for result in stream.response.steps[0].results] == [call.id for call in calls]


@pytest.mark.parametrize("approve", [True, False])
def test_a_confirm_callback_decides(
    approve: bool, server: LoopbackServer, connect: Callable[[str], None]
) -> None:
    connect("openai")
    queue_turns(server, "openai", "shell", "final")
    seen: list[str] = []

    def confirm(event: ConfirmationEvent) -> bool:
        seen.append(event.code)
        return approve

    interpreter = CodeInterpreter(confirm=confirm)
    items = list(prompt_class("openai", [interpreter])(question="Run it").stream())
    interpreter.close()
    assert seen == ["echo $OPENAI_API_KEY-end"]
    (confirmation,) = [item for item in items if isinstance(item, ConfirmationEvent)]
    assert confirmation.decision is approve
    ran = any(isinstance(item, ConsoleEvent) for item in items)
    assert ran is approve
    ((_, result),) = tool_results("openai", server.requests[1])
    assert ("declined" in result) is not approve


def test_an_async_confirm_callback_is_awaited_in_async_streams(
    server: LoopbackServer, connect: Callable[[str], None]
) -> None:
    connect("openai")
    queue_turns(server, "openai", "shell", "final")

    async def confirm(event: ConfirmationEvent) -> bool:
        await asyncio.sleep(0)
        return event.language == "shell"

    interpreter = CodeInterpreter(confirm=confirm)
    prompt = prompt_class("openai", [interpreter])(question="Run it")
    items, _ = run(prompt.stream_async, "async")
    assert "".join(item.content for item in items if isinstance(item, ConsoleEvent)) == "-end\n"

    queue_turns(server, "openai", "shell", "final")
    with pytest.raises(ConfigurationError, match="stream_async"):
        list(prompt.stream())
