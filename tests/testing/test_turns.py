"""Scripted turns: errors and faults give the right typed errors; bad scripts fail early."""

from __future__ import annotations

import json

import pytest

from mirastream import Timeouts, Usage
from mirastream.errors import (
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    MirastreamError,
    RateLimitError,
    ServerError,
    StreamInterrupted,
)
from mirastream.testing import (
    Call,
    Disconnect,
    ErrorEvent,
    ErrorReply,
    Pause,
    ReplayServer,
    Text,
    Thinking,
    Turn,
    render,
)

from .helpers import MODES, in_mode, prompt_class

PROVIDERS = ["openai", "anthropic", "gemini"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("wire", PROVIDERS)
def test_error_steps_raise_typed_errors_with_the_partial_response(
    replay: ReplayServer, wire: str, mode: str
) -> None:
    replay.queue(
        Turn(Text("Apple", " crumble"), ErrorEvent(429, "Slow down")),
        Turn(Thinking("Hmm."), Text("Apple"), Disconnect()),
        ErrorReply(429, "Too many requests", retry_after=7),
        ErrorReply(401),
        ErrorReply(503),
    )
    recipes = prompt_class(wire)
    outcomes = in_mode(mode, lambda: [recipes(ingredient="apples") for _ in range(5)], retries=0)
    expected = [RateLimitError, StreamInterrupted, RateLimitError, AuthenticationError, ServerError]
    assert [type(outcome.error) for outcome in outcomes] == expected

    in_stream, dropped, limited, refused, overloaded = (outcome.error for outcome in outcomes)
    assert isinstance(in_stream, MirastreamError) and in_stream.response is not None
    assert in_stream.response.text == "Apple crumble" and in_stream.response.interrupted
    assert "Slow down" in str(in_stream)
    assert isinstance(dropped, MirastreamError) and dropped.response is not None
    assert (dropped.response.thinking, dropped.response.text) == ("Hmm.", "Apple")
    assert isinstance(limited, RateLimitError)
    assert limited.retry_after == 7 and limited.status_code == 429 and "Too many requests" in str(limited)
    assert isinstance(refused, AuthenticationError) and refused.status_code == 401
    assert isinstance(overloaded, ServerError) and overloaded.status_code == 503
    assert all(outcome.error and outcome.error.provider == wire for outcome in outcomes)


def test_legacy_gemini_reads_error_replies_too(replay: ReplayServer) -> None:
    replay.queue(ErrorReply(429, retry_after=2), ErrorReply(400, "Bad model"))
    recipes = prompt_class("gemini-legacy")
    limited, bad = in_mode("sync", lambda: [recipes(ingredient="a"), recipes(ingredient="b")], retries=0)
    assert isinstance(limited.error, RateLimitError) and limited.error.retry_after == 2
    assert isinstance(bad.error, BadRequestError) and "Bad model" in str(bad.error)


@pytest.mark.parametrize("wire", PROVIDERS)
def test_a_default_retry_gets_past_a_scripted_overload(replay: ReplayServer, wire: str) -> None:
    replay.queue(ErrorReply(529 if wire == "anthropic" else 503, retry_after=0), Turn(Text("Apple pie.")))
    (outcome,) = in_mode("sync", lambda: [prompt_class(wire)(ingredient="apples")])
    assert outcome.error is None
    assert outcome.response.text == "Apple pie."
    assert len(replay.requests) == 2


@pytest.mark.parametrize("wire", PROVIDERS)
def test_a_pause_longer_than_the_idle_timeout_times_the_stream_out(replay: ReplayServer, wire: str) -> None:
    replay.queue(Turn(Text("Apple"), Pause(1.5), Text(" pie.")))
    timeouts = Timeouts(idle=0.3)
    (outcome,) = in_mode("sync", lambda: [prompt_class(wire)(ingredient="apples")], timeouts=timeouts)
    assert isinstance(outcome.error, APITimeoutError)
    assert outcome.error.response is not None and outcome.error.response.text == "Apple"


@pytest.mark.parametrize("wire", PROVIDERS)
def test_a_short_pause_and_a_delay_only_slow_the_stream(replay: ReplayServer, wire: str) -> None:
    replay.queue(Turn(Text("Apple"), Pause(0.2), Text(" pie."), delay=0.01))
    (outcome,) = in_mode("sync", lambda: [prompt_class(wire)(ingredient="apples")])
    assert outcome.error is None and outcome.response.text == "Apple pie."
    assert outcome.response.duration is not None and outcome.response.duration >= 0.2


def test_ids_model_and_usage_come_through(replay: ReplayServer) -> None:
    usage = Usage(input_tokens=40, output_tokens=12, cached_input_tokens=32, reasoning_tokens=5)
    turn = Turn(Call("get_time", id="call_1"), usage=usage, model="served-model", id="resp-1")
    replay.queue(turn, turn, turn)
    outcomes = in_mode("sync", lambda: [prompt_class(wire)(ingredient="x") for wire in PROVIDERS])
    for wire, outcome in zip(PROVIDERS, outcomes, strict=True):
        response = outcome.response
        assert [(call.id, call.name, call.arguments) for call in response.tool_calls] == [
            ("call_1", "get_time", {})
        ]
        assert response.finish_reason == "tool_calls"
        assert response.model == "served-model" and response.id == "resp-1", wire
        assert response.usage is not None
        assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (
            40,
            12,
            52,
        )
        assert response.usage.cached_input_tokens == 32, wire
        assert response.usage.reasoning_tokens == 5, wire


def test_the_reply_names_the_requested_model_and_default_ids_differ_per_request(replay: ReplayServer) -> None:
    replay.queue(Turn(Call("get_time")), Turn(Call("get_time")))
    recipes = prompt_class("openai")
    first, second = in_mode("sync", lambda: [recipes(ingredient="a"), recipes(ingredient="b")])
    assert first.response.model == "gpt-4o-mini"
    assert first.response.tool_calls[0].id != second.response.tool_calls[0].id


def test_openai_sends_usage_only_when_the_request_asks_for_it(replay: ReplayServer) -> None:
    replay.queue(Turn(Text("Hi"), usage=(3, 1)), Turn(Text("Hi"), usage=(3, 1)))
    recipes = prompt_class("openai")
    asked, not_asked = in_mode("sync", lambda: [recipes(ingredient="a")]) + in_mode(
        "sync", lambda: [recipes(ingredient="a")], include_usage=False
    )
    assert asked.response.usage is not None and asked.response.usage.total_tokens == 4
    assert not_asked.response.usage is None


def test_render_writes_each_wire_format() -> None:
    turn = Turn(Thinking("Hm."), Text("Hi"), Call("f", {"a": 1}, id="c"), usage=(2, 3))
    openai = render(turn, "openai", model="m").body.decode()
    assert openai.endswith("data: [DONE]\n\n")
    assert '"reasoning_content":"Hm."' in openai and '"model":"m"' in openai
    anthropic = render(turn, "anthropic").body.decode()
    assert anthropic.startswith("event: message_start\n") and "event: message_stop" in anthropic
    assert '"stop_reason":"tool_use"' in anthropic
    gemini = render(turn, "gemini").body.decode()
    last = json.loads(gemini.strip().split("\n\n")[-1].removeprefix("data: "))
    assert last["candidates"][0]["finishReason"] == "STOP"
    assert last["candidates"][0]["content"]["parts"] == [
        {"functionCall": {"name": "f", "args": {"a": 1}, "id": "c"}}
    ]
    legacy = render(turn, "gemini-legacy").body.decode()
    assert legacy.startswith("[") and legacy.endswith("]")
    assert json.loads(legacy)[-1]["candidates"][0]["finishReason"] == 1  # enums as numbers
    error = render(ErrorReply(429, retry_after=3), "openai")
    assert (error.status, error.headers["retry-after"]) == (429, "3")
    cut = render(Turn(Text("a"), Disconnect()), "anthropic")
    assert cut.cut_after == len(cut.body)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Text(), "at least one piece"),
        (lambda: Text(3), "str pieces"),  # type: ignore[arg-type]
        (lambda: Call(""), "tool's name"),
        (lambda: Call("f", {"x": object()}), "not JSON"),
        (lambda: Pause(-1), "seconds"),
        (lambda: ErrorEvent(200), "HTTP error status"),
        (lambda: ErrorReply(302), "HTTP error status"),
        (lambda: Turn(Disconnect(), Text("late")), "must be the last step"),
        (lambda: Turn(Text("a"), ErrorEvent(), finish_reason="stop"), "has no finish reason"),
        (lambda: Turn(Text("a"), finish_reason="done"), "finish_reason"),  # type: ignore[arg-type]
        (lambda: Turn("text"), "takes Text"),  # type: ignore[arg-type]
        (lambda: Turn(usage=(1, 2, 3)), "usage"),  # type: ignore[arg-type]
        (lambda: Turn(usage=Usage(input_tokens=1, output_tokens=1, reasoning_tokens=2)), "reasoning"),
        (lambda: render(Turn(Call("f", '{"broken')), "gemini"), "JSON object"),
        (lambda: render(Turn(), "smoke-signals"), "unknown wire"),  # type: ignore[arg-type]
    ],
)
def test_bad_scripts_fail_with_a_configuration_error(make: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        make()  # type: ignore[operator]


def test_default_finish_reasons() -> None:
    assert Turn(Text("a")).finish_reason == "stop"
    assert Turn(Text("a"), Call("f")).finish_reason == "tool_calls"
    assert Turn(Text("a"), Disconnect()).finish_reason is None
    assert Turn(usage=(1, 2)).usage == Usage(input_tokens=1, output_tokens=2, total_tokens=3)
    assert Call("f", ['{"a"', ": 1}"]).arguments == '{"a": 1}'
