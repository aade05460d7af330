"""Faults injected on the wire, for every provider, sync and async.

Each case states what the user must see: the same final text as a clean run (retried before
anything reached the consumer, nothing duplicated), or the right typed error carrying the
partial response (nothing lost).
"""

from __future__ import annotations

import random
import socket
from typing import Any

import pytest
import tenacity

from mirastream import Timeouts
from mirastream.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    RateLimitError,
    ServerError,
    StreamInterrupted,
)
from mirastream.retries import is_retryable

from .loopback import LoopbackServer, Reply, transcript
from .reading import MODES, consume
from .test_contract import HARNESSES, Harness

FULL_TEXT = "Try apple crumble, apple pie and baked apples."

FAST_RETRIES = tenacity.Retrying(
    stop=tenacity.stop_after_attempt(4),
    wait=tenacity.wait_none(),
    retry=tenacity.retry_if_exception(is_retryable),
    reraise=True,
)


def error_reply(provider: str, status: int, **options: Any) -> Reply:
    """An error response in the provider's own format."""
    message = {429: "Rate limit reached", 401: "Invalid API key", 503: "The model is overloaded"}[status]
    if provider == "openai":
        body: dict[str, Any] = {"error": {"message": message, "type": "server_error", "code": None}}
    elif provider == "anthropic":
        kinds = {429: "rate_limit_error", 401: "authentication_error", 503: "overloaded_error"}
        body = {"type": "error", "error": {"type": kinds[status], "message": message}}
    else:
        statuses = {429: "RESOURCE_EXHAUSTED", 401: "UNAUTHENTICATED", 503: "UNAVAILABLE"}
        body = {"error": {"code": status, "message": message, "status": statuses[status]}}
    return Reply.error(status, body, **options)


@pytest.fixture(params=HARNESSES, ids=lambda harness: harness.name)
def harness(
    request: pytest.FixtureRequest, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> Harness:
    chosen: Harness = request.param
    chosen.setup(server, monkeypatch)
    return chosen


def provider_of(harness: Harness) -> str:
    return harness.name.split("-")[0]


def text_of(chunks: list[Any]) -> str:
    return "".join(chunk.content for chunk in chunks)


@pytest.mark.parametrize("mode", MODES)
def test_rate_limited_then_success_gives_the_clean_text_once(
    harness: Harness, server: LoopbackServer, mode: str
) -> None:
    server.queue(error_reply(provider_of(harness), 429, headers={"retry-after": "0"}), harness.reply("text"))
    chunks, response, error = consume(harness.prompt_class()(ingredient="apples"), mode)
    assert error is None
    assert text_of(chunks) == response.text == FULL_TEXT
    assert len(server.requests) == 2


@pytest.mark.parametrize("mode", MODES)
def test_unavailable_three_times_then_success(harness: Harness, server: LoopbackServer, mode: str) -> None:
    provider = provider_of(harness)
    server.queue(*[error_reply(provider, 503)] * 3, harness.reply("text"))
    chunks, response, error = consume(harness.prompt_class()(ingredient="apples"), mode, retries=FAST_RETRIES)
    assert error is None
    assert text_of(chunks) == response.text == FULL_TEXT
    assert len(server.requests) == 4


@pytest.mark.parametrize("mode", MODES)
def test_unavailable_past_the_retries_is_a_server_error(
    harness: Harness, server: LoopbackServer, mode: str
) -> None:
    server.queue(*[error_reply(provider_of(harness), 503)] * 4)
    chunks, _, error = consume(harness.prompt_class()(ingredient="apples"), mode, retries=FAST_RETRIES)
    assert isinstance(error, ServerError) and error.status_code == 503
    assert chunks == [] and len(server.requests) == 4


@pytest.mark.parametrize("mode", MODES)
def test_unauthorized_is_never_retried(harness: Harness, server: LoopbackServer, mode: str) -> None:
    # Sent once by every client (the legacy one turns google-auth's re-sending on 401 off).
    server.queue(error_reply(provider_of(harness), 401))
    chunks, _, error = consume(harness.prompt_class()(ingredient="apples"), mode)
    assert isinstance(error, AuthenticationError) and error.status_code == 401
    assert error.response is None and chunks == []
    assert len(server.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_connection_refused_is_a_connection_error_after_the_retries(
    harness: Harness, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    for variable in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "GOOGLE_GEMINI_BASE_URL"):
        monkeypatch.setenv(
            variable, f"http://127.0.0.1:{closed_port}" + ("/v1" if "OPENAI" in variable else "")
        )
    attempts: list[int] = []
    policy = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(3),
        wait=tenacity.wait_none(),
        retry=tenacity.retry_if_exception(is_retryable),
        before=lambda state: attempts.append(state.attempt_number),
        reraise=True,
    )
    chunks, _, error = consume(harness.prompt_class()(ingredient="apples"), mode, retries=policy)
    assert isinstance(error, APIConnectionError)
    assert error.provider == provider_of(harness)
    assert chunks == [] and attempts == [1, 2, 3]


@pytest.mark.parametrize("mode", MODES)
def test_connection_dropped_after_some_chunks_keeps_them_and_is_not_retried(
    harness: Harness, server: LoopbackServer, mode: str
) -> None:
    reply = harness.reply("text")
    body = reply.body
    cut = body.index(b"pie")  # inside the event that carries " pie"
    server.queue(Reply(body, content_type=reply.content_type, chunked=True, cut_after=cut))
    chunks, _, error = consume(harness.prompt_class()(ingredient="apples"), mode)
    assert isinstance(error, StreamInterrupted)
    assert error.response is not None and error.response.interrupted
    assert error.__cause__ is not None
    assert error.response.text == "Try apple crumble, apple" == text_of(chunks)
    assert len(server.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_a_stall_longer_than_the_idle_timeout_is_a_timeout_with_the_partial_answer(
    harness: Harness, server: LoopbackServer, mode: str
) -> None:
    reply = harness.reply("text")
    # After the first text at the latest (the Responses API sends four events before it).
    first_text = next((i for i, piece in enumerate(reply.pieces()) if b"Try" in piece), 0)
    stall_after = max(4, first_text + 1)
    server.queue(
        Reply(reply.body, content_type=reply.content_type, chunked=True, stall_after=stall_after, stall=2.0)
    )
    limits = Timeouts(connect=5, first_chunk=10, idle=0.5)
    chunks, _, error = consume(harness.prompt_class()(ingredient="apples"), mode, timeouts=limits)
    assert isinstance(error, (APITimeoutError, StreamInterrupted)), error
    assert error.response is not None and error.response.interrupted
    assert text_of(chunks) == error.response.text
    assert FULL_TEXT.startswith(error.response.text) and error.response.text != FULL_TEXT
    assert len(server.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_a_stall_before_the_first_chunk_is_retried_and_shown_once(
    harness: Harness, server: LoopbackServer, mode: str
) -> None:
    stalled = harness.reply("text")
    server.queue(
        Reply(stalled.body, content_type=stalled.content_type, chunked=True, stall_after=0, stall=3.0),
        harness.reply("text"),
    )
    limits = Timeouts(connect=5, first_chunk=0.5, idle=0.8)
    chunks, response, error = consume(
        harness.prompt_class()(ingredient="apples"), mode, timeouts=limits, retries=FAST_RETRIES
    )
    assert error is None, error
    assert text_of(chunks) == response.text == FULL_TEXT
    assert len(server.requests) == 2


@pytest.mark.parametrize("mode", MODES)
def test_a_consumer_that_stops_at_a_random_point_keeps_a_prefix_and_frees_the_connection(
    harness: Harness, server: LoopbackServer, mode: str
) -> None:
    stop_after = random.Random(f"{harness.name}-{mode}").randint(1, 6)
    server.queue(harness.reply("text", delay=0.05))
    chunks, response, error = consume(
        harness.prompt_class()(ingredient="apples"), mode, stop_after=stop_after
    )
    assert error is None
    assert len(chunks) == stop_after
    assert response.interrupted
    # The response may hold one chunk more than was taken: the first chunk with text is read
    # before any chunk is handed over, so that a failure before it can still be retried.
    assert response.text.startswith(text_of(chunks)) and FULL_TEXT.startswith(response.text)
    assert server.last_request.disconnected.wait(timeout=3)
    assert len(server.requests) == 1


def test_a_malformed_chunk_is_a_typed_error_with_what_came_before(
    server: LoopbackServer, monkeypatch: Any
) -> None:
    from mirastream.errors import MalformedStreamError

    # The SSE providers; the legacy client parses its JSON itself.
    for harness in [harness for harness in HARNESSES if harness.name != "gemini-legacy"]:
        harness.setup(server, monkeypatch)
        events = transcript(harness.transcripts["text"]).split(b"\n\n")
        body = b"\n\n".join([*events[:4], b"data: {not json", *events[4:]])
        for mode in MODES:
            server.queue(Reply(body))
            _, _, error = consume(harness.prompt_class()(ingredient="apples"), mode)
            assert isinstance(error, MalformedStreamError), (harness.name, error)
            assert error.response is not None and FULL_TEXT.startswith(error.response.text)


def test_user_retry_policy_sees_typed_errors(server: LoopbackServer, monkeypatch: Any) -> None:
    seen: list[type[BaseException]] = []

    def record(state: tenacity.RetryCallState) -> bool:
        assert state.outcome is not None
        error = state.outcome.exception()
        if error is not None:
            seen.append(type(error))
        return isinstance(error, RateLimitError)

    harness = HARNESSES[0]
    harness.setup(server, monkeypatch)
    server.queue(error_reply("openai", 429), harness.reply("text"))
    policy = tenacity.Retrying(stop=tenacity.stop_after_attempt(2), wait=tenacity.wait_none(), retry=record)
    _, response, error = consume(harness.prompt_class()(ingredient="apples"), "sync", retries=policy)
    assert error is None and response.text == FULL_TEXT
    assert seen == [RateLimitError]
