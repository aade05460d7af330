"""Importing mirastream must not import any provider SDK."""

from __future__ import annotations

import subprocess
import sys


def _modules_after(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(result.stdout.split())


def test_importing_mirastream_and_its_provider_packages_loads_no_sdk() -> None:
    loaded = _modules_after(
        "import mirastream, mirastream.openai, mirastream.anthropic, mirastream.gemini, mirastream.tools"
    )
    assert {"mirastream.openai", "mirastream.anthropic", "mirastream.gemini"} <= loaded
    sdks = {
        "openai",
        "anthropic",
        "google.genai",
        "google.generativeai",
        "httpx",
        "httpx2",
        "jupyter_client",
        "zmq",
    }
    assert not sdks & loaded


def test_the_sdk_loads_on_the_first_call() -> None:
    loaded = _modules_after(
        "import os\n"
        "os.environ['OPENAI_API_KEY'] = 'sk-test'\n"
        "from mirastream.openai import OpenAIPrompt\n"
        "class P(OpenAIPrompt):\n"
        "    prompt_template = 'hi'\n"
        "P().stream()"
    )
    assert "openai" in loaded


def test_provider_packages_load_no_tool_machinery() -> None:
    """Tools, their sessions and asyncio load when a stream uses them, not with the packages."""
    loaded = _modules_after("import mirastream, mirastream.openai, mirastream.anthropic, mirastream.gemini")
    assert "asyncio" not in loaded
    # The engine knows tools only through their protocol, a few small classes.
    protocol = {"mirastream.tools._specs", "mirastream.tools._protocol"}
    assert not {name for name in loaded if name.startswith("mirastream.tools.")} - protocol


def test_tool_names_resolve_lazily() -> None:
    loaded = _modules_after("from mirastream.tools import Limits")
    assert "mirastream.tools.execution.limits" in loaded
    assert "mirastream.tools.execution.python" not in loaded
    assert "mirastream.tools.code_interpreter" not in loaded


def test_import_mirastream_alone_loads_not_even_pydantic() -> None:
    loaded = _modules_after("import mirastream")
    assert "pydantic" not in loaded
    loaded = _modules_after("from mirastream import BasePrompt, Response, errors")
    assert {"pydantic", "mirastream.prompts", "mirastream.responses", "mirastream.errors"} <= loaded


def test_importing_and_streaming_without_an_sdk_loads_no_opentelemetry() -> None:
    """Telemetry costs nothing until the application configures an OpenTelemetry SDK."""
    loaded = _modules_after(
        "import os\n"
        "os.environ['OPENAI_API_KEY'] = 'sk-test'\n"
        "import mirastream, mirastream.gemini, mirastream.telemetry\n"
        "from mirastream.openai import OpenAIPrompt\n"
        "class P(OpenAIPrompt):\n"
        "    prompt_template = 'hi'\n"
        "assert P().stream()._run.observer is None"
    )
    assert "mirastream.telemetry._gate" in loaded
    assert not {name for name in loaded if name.startswith("opentelemetry")}
    assert "mirastream.telemetry._observer" not in loaded
