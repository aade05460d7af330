"""Point the Anthropic SDK at the loopback server."""

from __future__ import annotations

import pytest

from ..loopback import LoopbackServer


@pytest.fixture(autouse=True)
def anthropic_env(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> LoopbackServer:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    return server
