"""Point the OpenAI SDK at the loopback server."""

from __future__ import annotations

import pytest

from ..loopback import LoopbackServer


@pytest.fixture(autouse=True)
def openai_env(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> LoopbackServer:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key")
    monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
    return server
