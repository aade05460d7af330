"""API keys, base URLs, user-supplied clients and lazy SDK loading, checked before anything is sent."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import anthropic
import pytest

from mirastream.anthropic import AnthropicPrompt
from mirastream.errors import ConfigurationError, MissingAPIKeyError

from ..loopback import LoopbackServer, Reply


class Greeting(AnthropicPrompt):
    prompt_template = "Say hello to {name}"
    name: str


def test_missing_key_names_the_variable_before_any_connection(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.delenv("ANTHROPIC_BASE_URL")
    for start in (Greeting(name="Ada").stream, Greeting(name="Ada").stream_async):
        with pytest.raises(MissingAPIKeyError, match="ANTHROPIC_API_KEY") as caught:
            start()
        assert caught.value.env_var == "ANTHROPIC_API_KEY"
        assert caught.value.provider == "anthropic"
        assert "Greeting" in str(caught.value)
    assert server.requests == []


def test_a_loopback_server_needs_no_key(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    server.queue(Reply.sse("anthropic/text.sse"))
    assert Greeting(name="Ada").stream().collect().text.startswith("Try")
    assert "sk-ant" not in server.last_request.headers.get("authorization", "")


def test_class_level_key_and_base_url_win_over_the_environment(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9/unused")

    class Configured(Greeting):
        api_key = "sk-ant-class-level"
        base_url = f"{server.url}/proxy"

    server.queue(Reply.sse("anthropic/text.sse"))
    Configured(name="Ada").stream().collect()
    assert server.last_request.path == "/proxy/v1/messages"
    assert server.last_request.headers["authorization"] == "Bearer sk-ant-class-level"


def test_own_sync_client_without_async_client_is_a_clear_error(server: LoopbackServer) -> None:
    class OwnClient(Greeting):
        client = anthropic.Anthropic(api_key="sk-ant-own", base_url=server.url)

    with pytest.raises(ConfigurationError, match="async_client"):
        OwnClient(name="Ada").stream_async()
    server.queue(Reply.sse("anthropic/text.sse"))
    assert OwnClient(name="Ada").stream().collect().text
    assert server.last_request.headers["authorization"] == "Bearer sk-ant-own"
    OwnClient.client.close()


def test_own_async_client_is_used(server: LoopbackServer) -> None:
    async def run() -> str:
        class OwnClient(Greeting):
            async_client = anthropic.AsyncAnthropic(
                api_key="sk-ant-own-async", base_url=server.url, default_headers={"x-team": "chefs"}
            )

        async with OwnClient(name="Ada").stream_async() as stream:
            response = await stream.collect()
        await OwnClient.async_client.close()
        return response.text

    server.queue(Reply.sse("anthropic/text.sse"))
    assert asyncio.run(run()).startswith("Try")
    assert server.last_request.headers["authorization"] == "Bearer sk-ant-own-async"
    assert server.last_request.headers["x-team"] == "chefs"


def test_anthropic_key_is_never_sent_to_a_host_the_class_points_at(server: LoopbackServer) -> None:
    class Proxied(Greeting):
        base_url = "https://llm-gateway.example.com"

    with pytest.raises(MissingAPIKeyError, match="never sends ANTHROPIC_API_KEY") as caught:
        Proxied(name="Ada").stream()
    assert "api_key_env" in str(caught.value)

    class LocalServer(Greeting):
        base_url = server.url

    server.queue(Reply.sse("anthropic/text.sse"))
    LocalServer(name="Ada").stream().collect()
    assert server.last_request.headers["authorization"] != "Bearer sk-ant-test-key"


def test_a_class_pointing_at_anthropic_itself_may_use_the_anthropic_key(server: LoopbackServer) -> None:
    class Official(Greeting):
        base_url = "https://api.anthropic.com"

    stream = Official(name="Ada").stream()  # the key is found; nothing is sent until iteration
    stream.close()
    assert server.requests == []


def test_api_key_env_names_the_variable_to_read(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Gateway(Greeting):
        base_url = f"{server.url}/gateway"
        api_key_env = "GATEWAY_API_KEY"

    monkeypatch.setenv("GATEWAY_API_KEY", "sk-gateway")
    server.queue(Reply.sse("anthropic/text.sse"))
    Gateway(name="Ada").stream().collect()
    assert server.last_request.headers["authorization"] == "Bearer sk-gateway"

    class RemoteGateway(Greeting):
        base_url = "https://llm-gateway.example.com"
        api_key_env = "GATEWAY_API_KEY"

    monkeypatch.delenv("GATEWAY_API_KEY")
    with pytest.raises(MissingAPIKeyError, match="GATEWAY_API_KEY") as caught:
        RemoteGateway(name="Ada").stream()
    assert caught.value.env_var == "GATEWAY_API_KEY"


def _modules_after(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(result.stdout.split())


def test_importing_the_package_loads_no_sdk() -> None:
    loaded = _modules_after("import mirastream.anthropic")
    assert "mirastream.anthropic" in loaded
    assert not {"anthropic", "httpx", "httpx2"} & loaded


def test_the_sdk_loads_on_the_first_call() -> None:
    loaded = _modules_after(
        "import os\n"
        "os.environ['ANTHROPIC_API_KEY'] = 'sk-ant-test'\n"
        "from mirastream.anthropic import AnthropicPrompt\n"
        "class P(AnthropicPrompt):\n"
        "    prompt_template = 'hi'\n"
        "P().stream()"
    )
    assert "anthropic" in loaded
