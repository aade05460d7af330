"""API keys, base URLs and user-supplied clients, checked before anything is sent."""

from __future__ import annotations

import asyncio

import openai
import pytest

from mirastream.errors import ConfigurationError, MissingAPIKeyError
from mirastream.openai import OpenAIPrompt

from ..loopback import LoopbackServer, Reply


class Greeting(OpenAIPrompt):
    prompt_template = "Say hello to {name}"
    name: str


def test_missing_key_names_the_variable_before_any_connection(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("OPENAI_BASE_URL")
    for start in (Greeting(name="Ada").stream, Greeting(name="Ada").stream_async):
        with pytest.raises(MissingAPIKeyError, match="OPENAI_API_KEY") as caught:
            start()
        assert caught.value.env_var == "OPENAI_API_KEY"
        assert caught.value.provider == "openai"
        assert "Greeting" in str(caught.value)
    assert server.requests == []


def test_a_loopback_server_needs_no_key(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    server.queue(Reply.sse("openai/text.sse"))
    assert Greeting(name="Ada").stream().collect().text.startswith("Try")


def test_class_level_key_and_base_url_win_over_the_environment(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/unused")

    class Configured(Greeting):
        api_key = "sk-class-level"
        base_url = f"{server.url}/compatible-mode/v1"

    server.queue(Reply.sse("openai/text.sse"))
    Configured(name="Ada").stream().collect()
    assert server.last_request.path == "/compatible-mode/v1/chat/completions"
    assert server.last_request.headers["authorization"] == "Bearer sk-class-level"


def test_own_sync_client_without_async_client_is_a_clear_error(server: LoopbackServer) -> None:
    class OwnClient(Greeting):
        client = openai.OpenAI(api_key="sk-own", base_url=f"{server.url}/v1")

    with pytest.raises(ConfigurationError, match="async_client"):
        OwnClient(name="Ada").stream_async()
    server.queue(Reply.sse("openai/text.sse"))
    assert OwnClient(name="Ada").stream().collect().text
    OwnClient.client.close()


def test_own_async_client_is_used(server: LoopbackServer) -> None:
    async def run() -> str:
        class OwnClient(Greeting):
            async_client = openai.AsyncOpenAI(
                api_key="sk-own-async", base_url=f"{server.url}/v1", default_headers={"x-team": "chefs"}
            )

        async with OwnClient(name="Ada").stream_async() as stream:
            response = await stream.collect()
        await OwnClient.async_client.close()
        return response.text

    server.queue(Reply.sse("openai/text.sse"))
    assert asyncio.run(run()).startswith("Try")
    assert server.last_request.headers["authorization"] == "Bearer sk-own-async"
    assert server.last_request.headers["x-team"] == "chefs"


def test_openai_key_is_never_sent_to_a_host_the_class_points_at(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Qwen(Greeting):
        base_url = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"

    with pytest.raises(MissingAPIKeyError, match="never sends OPENAI_API_KEY") as caught:
        Qwen(name="Ada").stream()
    assert "api_key_env" in str(caught.value)

    class LocalQwen(Greeting):
        base_url = f"{server.url}/v1"

    server.queue(Reply.sse("openai/text.sse"))
    LocalQwen(name="Ada").stream().collect()
    assert server.last_request.headers["authorization"] != "Bearer sk-test-key"


def test_api_key_env_names_the_variable_to_read(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Qwen(Greeting):
        base_url = f"{server.url}/compatible-mode/v1"
        api_key_env = "DASHSCOPE_API_KEY"

    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-dashscope")
    server.queue(Reply.sse("openai/reasoning.sse"))
    Qwen(name="Ada").stream().collect()
    assert server.last_request.headers["authorization"] == "Bearer sk-dashscope"

    class RemoteQwen(Greeting):
        base_url = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
        api_key_env = "DASHSCOPE_API_KEY"

    monkeypatch.delenv("DASHSCOPE_API_KEY")
    with pytest.raises(MissingAPIKeyError, match="DASHSCOPE_API_KEY") as caught:
        RemoteQwen(name="Ada").stream()
    assert caught.value.env_var == "DASHSCOPE_API_KEY"


def test_default_async_clients_are_closed_when_their_event_loop_ends(server: LoopbackServer) -> None:
    import gc
    import weakref

    loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []
    clients: list[openai.AsyncOpenAI] = []

    async def run() -> None:
        loops.append(weakref.ref(asyncio.get_running_loop()))
        async with Greeting(name="Ada").stream_async() as stream:
            await stream.collect()
        from mirastream.openai._client import CLIENTS

        clients.extend(CLIENTS._cache._async[asyncio.get_running_loop()].clients.values())

    for _ in range(3):
        server.queue(Reply.sse("openai/text.sse"))
        asyncio.run(run())
    gc.collect()
    assert [loop() for loop in loops] == [None, None, None]  # no loop kept alive by its clients
    assert len(clients) == 3
    assert all(client.is_closed() for client in clients)
