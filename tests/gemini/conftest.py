"""Point the Gemini SDKs at the loopback server."""

from __future__ import annotations

import pytest

from ..loopback import LoopbackServer

API_KEY = "gemini-test-key"


@pytest.fixture(autouse=True)
def gemini_env(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> LoopbackServer:
    monkeypatch.setenv("GEMINI_API_KEY", API_KEY)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.url)
    return server
