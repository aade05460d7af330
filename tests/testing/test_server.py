"""The replay server: what it records, how it answers, its faults and its checks."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import httpx2
import pytest

from mirastream.errors import BadRequestError, ConfigurationError, StreamInterrupted
from mirastream.testing import ReplayServer, Reply, Text, Turn, serve

from .helpers import in_mode, prompt_class

TRANSCRIPTS = Path(__file__).resolve().parent.parent / "transcripts"


def test_it_records_what_each_sdk_sent(replay: ReplayServer) -> None:
    replay.queue(*(Turn(Text("ok")) for _ in range(4)))
    for wire in ("openai", "anthropic", "gemini", "gemini-legacy"):
        in_mode("sync", lambda wire=wire: [prompt_class(wire)(ingredient="pears")])  # type: ignore[misc]
    openai, anthropic, gemini, legacy = replay.requests
    assert [r.number for r in replay.requests] == [1, 2, 3, 4]
    assert (openai.method, openai.path, openai.wire) == ("POST", "/v1/chat/completions", "openai")
    assert openai.headers["authorization"] == "Bearer sk-mirastream-test"
    assert openai.json()["model"] == openai.model == "gpt-4o-mini"
    assert (anthropic.path, anthropic.wire, anthropic.model) == (
        "/v1/messages",
        "anthropic",
        "claude-sonnet-4-6",
    )
    key = anthropic.headers.get("x-api-key") or anthropic.headers.get("authorization", "")
    assert key.endswith("sk-ant-mirastream-test")
    assert gemini.wire == "gemini" and gemini.model == "gemini-2.5-flash"
    assert gemini.headers["x-goog-api-key"] == "mirastream-test-key"
    assert legacy.wire == "gemini-legacy" and legacy.model == "gemini-2.5-flash"
    for request in replay.requests:
        system, user = request.messages()
        assert (system.role, system.content) == ("system", "You are a chef who answers briefly.")
        assert (user.role, user.content) == ("user", "Recommend recipes that use pears as an ingredient")
        assert request.finished.wait(5)  # set by the server thread, just after the last byte went out
    assert replay.last_request is legacy
    assert replay.failures == [] and replay.pending == 0


def test_a_request_with_nothing_queued_is_an_error_the_check_reports(replay: ReplayServer) -> None:
    (outcome,) = in_mode("sync", lambda: [prompt_class("openai")(ingredient="x")])
    assert isinstance(outcome.error, BadRequestError)  # not retried, unlike a 5xx
    assert "no reply was queued" in str(outcome.error)
    assert len(replay.requests) == 1
    with pytest.raises(AssertionError, match=r"request 1 \(POST /v1/chat/completions\): no reply was queued"):
        replay.check()


def test_unused_replies_and_unwritable_scripts_fail_the_check(replay: ReplayServer) -> None:
    from mirastream.testing import Call

    replay.queue(Turn(Call("f", "not json")), Turn(Text("never asked for")))
    (outcome,) = in_mode("sync", lambda: [prompt_class("gemini")(ingredient="x")])
    assert isinstance(outcome.error, BadRequestError)
    with pytest.raises(AssertionError) as failed:
        replay.check()
    assert "Call('f') are not one" in str(failed.value)
    assert "1 queued reply was never requested" in str(failed.value)


def test_a_failing_responder_is_reported(replay: ReplayServer) -> None:
    def broken(request: object) -> Turn:
        raise KeyError("oops")

    replay.queue(broken)
    (outcome,) = in_mode("sync", lambda: [prompt_class("anthropic")(ingredient="x")])
    assert isinstance(outcome.error, BadRequestError)
    assert replay.failures and "the responder raised KeyError('oops')" in replay.failures[0]


def test_queue_rejects_what_it_cannot_send(replay: ReplayServer) -> None:
    with pytest.raises(ConfigurationError, match="queue"):
        replay.queue("data: {}")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="unknown provider"):
        replay.base_url("mistral")


def test_transcripts_replay_from_files_and_bytes_with_faults(replay: ReplayServer) -> None:
    path = TRANSCRIPTS / "openai" / "text.sse"
    replay.queue(
        Reply.transcript(path),
        Reply.transcript(path.read_bytes(), piece_size=7, delay=0.001),
        Reply.transcript(str(path), cut_after=900),
    )
    recipes = prompt_class("openai")
    whole, small, cut = in_mode("sync", lambda: [recipes(ingredient="x") for _ in range(3)], retries=0)
    assert whole.response.text == small.response.text == "Try apple crumble, apple pie and baked apples."
    assert isinstance(cut.error, StreamInterrupted)
    assert cut.error.response is not None and 0 < len(cut.error.response.text) < len(whole.response.text)


def test_a_raw_reply_is_sent_byte_for_byte() -> None:
    with ReplayServer() as server:
        server.queue(
            Reply.error(418, {"teapot": True}, headers={"x-brew": "earl grey"}), Reply(b"data: 1\n\n")
        )
        answer = httpx2.post(f"{server.url}/anything", json={"a": 1})
        stream = httpx2.get(f"{server.url}/events")
    assert (answer.status_code, answer.json(), answer.headers["x-brew"]) == (
        418,
        {"teapot": True},
        "earl grey",
    )
    assert stream.text == "data: 1\n\n" and stream.headers["transfer-encoding"] == "chunked"
    assert json.loads(server.requests[0].body) == {"a": 1} and server.requests[1].method == "GET"
    assert server.requests[0].wire is None and server.requests[0].messages() == []


def test_stopping_drops_open_connections_and_frees_the_port() -> None:
    server = ReplayServer().start()
    server.queue(Reply(b"data: 1\n\n"))
    with httpx2.Client() as client:
        assert client.get(f"{server.url}/x").status_code == 200  # leaves a keep-alive connection
        started = time.perf_counter()
        server.stop()
        assert time.perf_counter() - started < 1
        with pytest.raises(httpx2.TransportError):
            client.get(f"{server.url}/x")
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", server.port)) != 0
    with pytest.raises(ConfigurationError, match="stopped"):
        server.start()


def test_each_serve_block_gets_a_fresh_server_and_clients_follow_it() -> None:
    recipes = prompt_class("openai")
    texts = []
    for word in ("first", "second"):
        with serve(recipes) as server:
            server.queue(Turn(Text(word)))
            texts.append(recipes(ingredient="x").stream().collect().text)
            assert server.last_request.model == "gpt-4o-mini"
    assert texts == ["first", "second"]
