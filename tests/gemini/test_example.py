"""examples/gemini_stream.py runs as a user would run it, against the loopback server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ..loopback import LoopbackServer, Reply

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gemini_stream.py"


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI_", "GOOGLE_"))}
    return subprocess.run(
        [sys.executable, str(EXAMPLE), *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_example_streams_from_a_gemini_compatible_server(server: LoopbackServer) -> None:
    server.queue(Reply.sse("gemini/text.sse"))
    result = _run({"GOOGLE_GEMINI_BASE_URL": server.url}, "pears", "--model", "gemini-2.5-pro")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Try apple crumble, apple pie and baked apples.")
    assert "[gemini-2.5-flash] finish: stop" in result.stdout
    assert "input_tokens=24 output_tokens=10 total_tokens=34" in result.stdout
    request = server.last_request
    assert request.path == "/v1/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
    assert "pears" in request.json()["contents"][0]["parts"][0]["text"]


def test_example_shows_thoughts_when_asked(server: LoopbackServer) -> None:
    server.queue(Reply.sse("gemini/thinking.sse"))
    result = _run({"GOOGLE_GEMINI_BASE_URL": server.url, "GEMINI_API_KEY": "k"}, "--thoughts")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("[thinking] Apples are sweet.\n\nApple pie.")
    assert server.last_request.json()["generationConfig"]["thinkingConfig"] == {"include_thoughts": True}
    assert server.last_request.headers["x-goog-api-key"] == "k"


def test_example_says_what_to_set_when_nothing_is_configured() -> None:
    result = _run({})
    assert result.returncode == 2
    assert result.stdout == ""
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL"):
        assert name in result.stderr
