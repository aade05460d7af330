"""`serve()`: what it points at the server, and that everything is restored afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any, ClassVar

import pytest

from mirastream import BasePrompt
from mirastream.errors import ConfigurationError
from mirastream.openai import OpenAICallParams, OpenAIPrompt
from mirastream.testing import ReplayServer, Text, Turn, serve

from .helpers import prompt_class

WATCHED = (
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_ORG_ID",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "GOOGLE_GEMINI_BASE_URL",
    "GEMINI_API_KEY",
    "DASHSCOPE_API_KEY",
)


def environment() -> dict[str, str | None]:
    return {name: os.environ.get(name) for name in WATCHED}


class Qwen(OpenAIPrompt):
    """A class pinned to another OpenAI-compatible server, with its own key variable."""

    prompt_template = "USER: {question}"
    question: str
    base_url: ClassVar[str | None] = "https://dashscope.example.com/compatible-mode/v1"
    api_key_env: ClassVar[str] = "DASHSCOPE_API_KEY"
    call_params = OpenAICallParams(model="qwen-plus")


def test_the_environment_is_restored_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-key")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-real")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "real-token")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", "https://gateway.example.com")
    before = environment()
    with serve() as server:
        inside = environment()
        assert inside["OPENAI_BASE_URL"] == f"{server.url}/v1"
        assert inside["ANTHROPIC_BASE_URL"] == inside["GOOGLE_GEMINI_BASE_URL"] == server.url
        assert inside["OPENAI_API_KEY"] == "sk-mirastream-test"
        assert inside["OPENAI_ORG_ID"] is None and inside["ANTHROPIC_AUTH_TOKEN"] is None
    assert environment() == before


def test_the_environment_is_restored_after_an_error_and_the_error_is_not_masked() -> None:
    before = environment()

    def fail_inside() -> None:
        with serve("openai") as server:
            server.queue(Turn(Text("unused")))  # would fail the final check
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        fail_inside()
    assert environment() == before


def test_only_the_named_providers_are_pointed_at_the_server() -> None:
    with serve("anthropic"):
        assert os.environ.get("ANTHROPIC_BASE_URL") is not None
        assert os.environ.get("OPENAI_BASE_URL") is None


def test_a_class_with_its_own_base_url_and_key_variable_is_served_then_restored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-real-dashscope")
    with serve(Qwen) as server:
        assert Qwen.base_url == f"{server.url}/v1"
        server.queue(Turn(Text("你好")))
        assert Qwen(question="hi").stream().collect().text == "你好"
        assert server.last_request.headers["authorization"] == "Bearer sk-mirastream-test"
    assert Qwen.base_url == "https://dashscope.example.com/compatible-mode/v1"
    assert "base_url" in Qwen.__dict__
    assert os.environ["DASHSCOPE_API_KEY"] == "sk-real-dashscope"


def test_an_inherited_base_url_is_shadowed_then_removed() -> None:
    class Child(Qwen):
        pass

    with serve(Child) as server:
        assert Child.base_url == f"{server.url}/v1"
        assert Qwen.base_url == "https://dashscope.example.com/compatible-mode/v1"
    assert "base_url" not in Child.__dict__
    assert Child.base_url == Qwen.base_url


def test_a_class_with_its_own_client_is_refused() -> None:
    class Mine(OpenAIPrompt):
        prompt_template = "hi"
        client: ClassVar[Any] = object()

    before = environment()
    with pytest.raises(ConfigurationError, match="uses its own SDK client"), serve(Mine):
        pass
    assert environment() == before


class Plain(BasePrompt):
    prompt_template = "hi"


@pytest.mark.parametrize("target", ["mistral", int, 3, Plain])
def test_serve_rejects_what_is_not_a_provider(target: Any) -> None:
    with pytest.raises(ConfigurationError, match="provider"), serve(target):
        pass


def test_the_final_check_fails_a_block_that_left_replies_unused() -> None:
    with pytest.raises(AssertionError, match="never requested"), serve("openai") as server:
        server.queue(Turn(Text("unused")))
    with serve("openai", check=False) as server:
        server.queue(Turn(Text("unused")))


def test_a_given_server_is_bound_but_not_stopped() -> None:
    with ReplayServer() as server:
        with serve(prompt_class("gemini"), server=server) as bound:
            assert bound is server
            assert os.environ["GOOGLE_GEMINI_BASE_URL"] == server.url
        server.queue(Turn(Text("still serving")))
        with serve("gemini", server=server):
            assert prompt_class("gemini")(ingredient="x").stream().collect().text == "still serving"


def test_importing_the_package_loads_no_sdk_and_mirastream_does_not_import_it() -> None:
    code = (
        "import sys, mirastream, mirastream.openai\n"
        "assert 'mirastream.testing' not in sys.modules\n"
        "import mirastream.testing\n"
        "print(' '.join(sorted(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(result.stdout.split())
    assert "mirastream.testing" in loaded
    assert not loaded & {"openai", "anthropic", "google.genai", "google.generativeai", "httpx2", "pytest"}
