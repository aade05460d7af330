"""Shared fixtures: the loopback server and an environment with no real provider settings."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from .loopback import LoopbackServer

# In CI, Hypothesis runs the same examples every time, so a run's result does not depend on luck.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

# The deprecated `google-generativeai` package announces its end of support with a
# `FutureWarning` when imported, and `google-api-core` (which it pulls in) warns about the
# Python version it will stop supporting. Import them once, with exactly those two warnings
# silenced, so that `filterwarnings = error` still catches every other warning.
with warnings.catch_warnings():
    for _message in (
        r"\s*All support for the `google.generativeai` package has ended",
        r"You are using a Python version .* which Google will stop supporting",
    ):
        warnings.filterwarnings("ignore", message=_message, category=FutureWarning)
    import google.ai.generativelanguage
    import google.generativeai  # noqa: F401

_PROVIDER_ENV = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "GOOGLE_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_GEMINI_BASE_URL",
    "GOOGLE_VERTEX_BASE_URL",
    "GOOGLE_GENAI_API_VERSION",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "GOOGLE_GENAI_USE_ENTERPRISE",
    "GOOGLE_GENAI_HTTP_CLIENT",
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_CLOUD_LOCATION",
)


@pytest.fixture(scope="session")
def _server() -> Iterator[LoopbackServer]:
    server = LoopbackServer().start()
    yield server
    server.stop()


@pytest.fixture
def server(_server: LoopbackServer) -> Iterator[LoopbackServer]:
    """The loopback server, with an empty reply queue and request log."""
    _server.reset()
    yield _server
    _server.reset()


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's real keys or endpoints."""
    for name in _PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)


# What `pytest -m "not slow"` (and `scripts/check`) leaves out: the modules that start the
# local model, child processes per test, a load run, the docs site build or the linters.
SLOW_TESTS = (
    "local/",
    "cli/test_process.py",
    "test_docs_site.py",
    "test_examples.py",
    "test_load.py",
    "test_quality.py",
)
_TESTS = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests of `SLOW_TESTS` with `slow`."""
    for item in items:
        relative = item.path.relative_to(_TESTS).as_posix() if item.path.is_relative_to(_TESTS) else ""
        if relative.startswith(SLOW_TESTS):
            item.add_marker(pytest.mark.slow)
