"""Errors that say what to do: a connection error names the URL tried and the cause, on every
provider, and a `base_url` without a scheme is refused before any request."""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Any

import pytest

from mirastream._status import connection_error
from mirastream.errors import APIConnectionError, ConfigurationError

from .loopback import LoopbackServer
from .reading import MODES, consume
from .test_contract import HARNESSES, Harness

BASE_URL_VARIABLES = ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "GOOGLE_GEMINI_BASE_URL")


@pytest.fixture(params=HARNESSES, ids=lambda harness: harness.name)
def harness(
    request: pytest.FixtureRequest, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> Harness:
    chosen: Harness = request.param
    chosen.setup(server, monkeypatch)
    return chosen


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def read_async(prompt: Any) -> None:
    async with prompt.stream_async() as stream:
        async for _ in stream:
            pass


def apples(harness: Harness) -> Any:
    """The harness's prompt, asking about apples."""
    prompt_class: Any = harness.prompt_class()
    return prompt_class(ingredient="apples")


def point_every_provider_at(monkeypatch: pytest.MonkeyPatch, root: str) -> None:
    for variable in BASE_URL_VARIABLES:
        monkeypatch.setenv(variable, root + ("/v1" if "OPENAI" in variable else ""))


@pytest.mark.parametrize("mode", MODES)
def test_a_refused_connection_names_the_url_and_the_cause(
    harness: Harness, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = closed_port()
    point_every_provider_at(monkeypatch, f"http://127.0.0.1:{port}")
    _, _, error = consume(apples(harness), mode, retries=0)
    assert isinstance(error, APIConnectionError)
    assert error.message.startswith(f"could not reach http://127.0.0.1:{port}/"), error.message
    assert error.message.endswith(": connection refused"), error.message
    assert "?" not in error.message  # no query string: it may carry a key


@pytest.mark.parametrize("mode", MODES)
def test_a_base_url_without_a_scheme_is_refused_before_any_request(
    harness: Harness, mode: str, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = server.url.removeprefix("http://")
    point_every_provider_at(monkeypatch, root)
    prompt = apples(harness)
    open_stream = prompt.stream if mode == "sync" else lambda: asyncio.run(read_async(prompt))
    with pytest.raises(ConfigurationError) as caught:
        open_stream()
    error = caught.value
    assert "no http:// or https:// scheme" in error.message
    assert "write 'http://127.0.0.1:" in error.message
    assert "_BASE_URL" in error.message  # names the variable it came from
    assert server.requests == []


def test_a_class_base_url_without_a_scheme_names_the_class(server: LoopbackServer) -> None:
    from mirastream.openai import OpenAICallParams, OpenAIPrompt

    class Local(OpenAIPrompt):
        prompt_template = "USER: hi"
        base_url = server.url.removeprefix("http://") + "/v1"
        call_params = OpenAICallParams(model="m")

    with pytest.raises(ConfigurationError, match=r"Local\.base_url = '127\.0\.0\.1:\d+/v1'"):
        Local().stream()
    assert server.requests == []


def test_a_base_url_with_another_scheme_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from mirastream.anthropic import AnthropicCallParams, AnthropicPrompt

    class Files(AnthropicPrompt):
        prompt_template = "USER: hi"
        base_url = "ftp://127.0.0.1:9"
        api_key = "sk-test"
        call_params = AnthropicCallParams(model="m", max_tokens=5)

    with pytest.raises(ConfigurationError, match="scheme 'ftp' is not http or https"):
        Files().stream()


def caused(outer: Exception, inner: BaseException) -> Exception:
    """`outer` raised while handling `inner`, as the HTTP libraries chain them."""
    try:
        try:
            raise inner
        except BaseException as cause:
            raise outer from cause
    except Exception as error:
        return error


@pytest.mark.parametrize(
    ("inner", "words"),
    [
        (ConnectionRefusedError(111, "Connection refused"), "connection refused"),
        (
            socket.gaierror(-2, "Name or service not known"),
            "could not be resolved (Name or service not known)",
        ),
        (ConnectionResetError(104, "Connection reset by peer"), "the server reset the connection"),
        (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), "the TLS handshake failed"),
        (OSError(113, "No route to host"), "no route to host"),
    ],
)
def test_the_cause_is_the_innermost_reason_in_words(inner: BaseException, words: str) -> None:
    error = connection_error(caused(RuntimeError("Connection error."), inner), provider="openai")
    assert isinstance(error, APIConnectionError)
    assert error.message.startswith("could not reach the openai server: ")
    assert words in error.message


def test_without_a_known_cause_the_last_message_is_kept() -> None:
    error = connection_error(caused(RuntimeError("outer"), ValueError("odd proxy reply")), provider="x")
    assert error.message == "could not reach the x server: odd proxy reply"


def test_the_chat_shows_the_url_and_the_cause(monkeypatch: pytest.MonkeyPatch) -> None:
    from mirastream.cli._chat import describe
    from mirastream.cli._options import parse_options

    port = closed_port()
    point_every_provider_at(monkeypatch, f"http://127.0.0.1:{port}")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    from mirastream.openai import OpenAICallParams, OpenAIPrompt

    class Chat(OpenAIPrompt):
        prompt_template = "USER: hi"
        call_params = OpenAICallParams(model="m")

    _, _, error = consume(Chat(), "sync", retries=0)
    assert error is not None
    options = parse_options(["chat", "hi"])
    assert describe(error, options) == (
        f"could not reach http://127.0.0.1:{port}/v1/chat/completions: connection refused"
    )
