"""API keys, base URLs, user-supplied clients and lazy SDK imports, checked before anything is sent."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from google import genai
from google.genai import types

from mirastream.errors import MissingAPIKeyError, MissingDependencyError
from mirastream.gemini import GeminiLegacyPrompt, GeminiPrompt

from ..loopback import LoopbackServer, Reply
from .conftest import API_KEY


class Greeting(GeminiPrompt):
    prompt_template = "Say hello to {name}"
    name: str


class LegacyGreeting(GeminiLegacyPrompt):
    prompt_template = "Say hello to {name}"
    name: str


def test_missing_key_names_the_variable_before_any_connection(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GEMINI_API_KEY")
    monkeypatch.delenv("GOOGLE_GEMINI_BASE_URL")
    for start in (
        Greeting(name="Ada").stream,
        Greeting(name="Ada").stream_async,
        LegacyGreeting(name="Ada").stream,
        LegacyGreeting(name="Ada").stream_async,
    ):
        with pytest.raises(MissingAPIKeyError, match="GEMINI_API_KEY") as caught:
            start()
        assert caught.value.env_var == "GEMINI_API_KEY"
        assert caught.value.provider == "gemini"
        assert "(or GOOGLE_API_KEY)" in str(caught.value)
        assert "Greeting" in str(caught.value)
    assert server.requests == []


def test_google_api_key_is_read_as_the_sdk_reads_it(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GEMINI_API_KEY")
    monkeypatch.setenv("GOOGLE_API_KEY", "google-key")
    server.queue(Reply.sse("gemini/text.sse"))
    Greeting(name="Ada").stream().collect()
    assert server.last_request.headers["x-goog-api-key"] == "google-key"

    monkeypatch.setenv("GEMINI_API_KEY", "gemini-key")  # the variable api_key_env names wins
    server.queue(Reply.sse("gemini/text.sse"))
    Greeting(name="Ada").stream().collect()
    assert server.last_request.headers["x-goog-api-key"] == "gemini-key"


def test_a_loopback_server_needs_no_key(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY")
    server.queue(Reply.sse("gemini/text.sse"))
    assert Greeting(name="Ada").stream().collect().text.startswith("Try")


def test_class_level_key_and_base_url_win_over_the_environment(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", "http://127.0.0.1:9/unused")

    class Configured(Greeting):
        api_key = "class-level-key"
        base_url = f"{server.url}/gateway/"

    server.queue(Reply.sse("gemini/text.sse"))
    Configured(name="Ada").stream().collect()
    assert server.last_request.path == "/gateway/v1/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert server.last_request.headers["x-goog-api-key"] == "class-level-key"


@pytest.mark.parametrize("prompt_class", [Greeting, LegacyGreeting])
def test_google_keys_are_never_sent_to_a_host_the_class_points_at(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch, prompt_class: type[GeminiPrompt]
) -> None:
    class Proxied(prompt_class):
        base_url = "https://gemini-proxy.example.com"

    with pytest.raises(MissingAPIKeyError, match="never sends GEMINI_API_KEY") as caught:
        Proxied(name="Ada").stream()
    assert "api_key_env" in str(caught.value)

    monkeypatch.delenv("GEMINI_API_KEY")
    monkeypatch.setenv("GOOGLE_API_KEY", "google-key")
    with pytest.raises(MissingAPIKeyError, match="never sends GEMINI_API_KEY or GOOGLE_API_KEY"):
        Proxied(name="Ada").stream()

    class Home(prompt_class):
        base_url = "https://generativelanguage.googleapis.com"

    Home(name="Ada").stream()  # Google itself may have the key (nothing is sent until iterated)

    class OwnKey(Proxied):
        api_key_env = "PROXY_KEY"

    monkeypatch.setenv("PROXY_KEY", "proxy-key")
    OwnKey(name="Ada").stream()
    assert server.requests == []


def test_own_client_serves_sync_and_async(server: LoopbackServer) -> None:
    class OwnClient(Greeting):
        client = genai.Client(
            api_key="own-key",
            http_options=types.HttpOptions(base_url=server.url, headers={"x-team": "chefs"}),
        )

    server.queue(Reply.sse("gemini/text.sse"))
    chunks = list(OwnClient(name="Ada").stream())
    assert "".join(chunk.content for chunk in chunks).startswith("Try")
    assert server.last_request.headers["x-goog-api-key"] == "own-key"
    # The SDK read this stream itself: `.chunk` is its own object, as it yielded it.
    assert all(type(chunk.chunk) is types.GenerateContentResponse for chunk in chunks)
    assert chunks[0].chunk.candidates == chunks[0].choices and chunks[0].id == chunks[0].chunk.response_id

    async def run() -> str:
        async with OwnClient(name="Ada").stream_async() as stream:
            text = (await stream.collect()).text
        await OwnClient.client.aio.aclose()  # its connection pool belongs to this event loop
        return text

    server.queue(Reply.sse("gemini/text.sse"))
    assert asyncio.run(run()).startswith("Try")
    assert server.last_request.headers["x-team"] == "chefs"
    OwnClient.client.close()


def test_default_client_is_reused_across_streams(server: LoopbackServer) -> None:
    server.queue(Reply.sse("gemini/text.sse"), Reply.sse("gemini/text.sse"))
    Greeting(name="Ada").stream().collect()
    Greeting(name="Grace").stream().collect()
    first, second = server.requests
    assert first.client_port == second.client_port  # the same pooled connection


def test_async_default_client_is_reused_within_an_event_loop(server: LoopbackServer) -> None:
    server.queue(Reply.sse("gemini/text.sse"), Reply.sse("gemini/text.sse"))

    async def run() -> None:
        for name in ("Ada", "Grace"):
            async with Greeting(name=name).stream_async() as stream:
                await stream.collect()

    asyncio.run(run())
    first, second = server.requests
    assert first.client_port == second.client_port
    assert first.headers["x-goog-api-key"] == API_KEY


def _modules_after(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    command = [sys.executable, "-W", "ignore", "-c", script]
    result = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    return set(result.stdout.split())


GOOGLE_SDKS = {"google.genai", "google.generativeai", "google.ai.generativelanguage", "google.api_core"}


def test_importing_mirastream_gemini_loads_no_google_sdk() -> None:
    loaded = _modules_after("import mirastream.gemini, mirastream.gemini.legacy")
    assert "mirastream.gemini.legacy" in loaded
    assert not (GOOGLE_SDKS | {"httpx2", "proto", "requests"}) & loaded


def test_each_sdk_loads_on_the_first_call_of_its_client() -> None:
    setup = (
        "import os\n"
        "os.environ['GEMINI_API_KEY'] = 'k'\n"
        "from mirastream.gemini import GeminiPrompt, GeminiLegacyPrompt\n"
        "class P(GeminiPrompt):\n"
        "    prompt_template = 'hi'\n"
        "class L(GeminiLegacyPrompt):\n"
        "    prompt_template = 'hi'\n"
    )
    loaded = _modules_after(setup + "P().stream()")
    assert "google.genai" in loaded and "google.generativeai" not in loaded
    loaded = _modules_after(setup + "L().stream()")
    assert "google.generativeai" in loaded and "google.genai" not in loaded


def test_a_missing_sdk_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "google.genai", None)
    with pytest.raises(MissingDependencyError, match=r"mirastream\[gemini\]") as caught:
        Greeting(name="Ada").stream()
    assert caught.value.extra == "gemini"

    monkeypatch.setitem(sys.modules, "google.generativeai", None)
    with pytest.raises(MissingDependencyError, match=r"mirastream\[gemini-legacy\]") as legacy:
        LegacyGreeting(name="Ada").stream()
    assert legacy.value.extra == "gemini-legacy"
