"""What the benchmark groups share: providers, requests, prompt classes, child runs, statistics."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROVIDERS = ("openai", "anthropic", "gemini")
# The streaming groups also measure OpenAI's Responses API (`OpenAIResponsesPrompt`).
STREAM_PROVIDERS = (*PROVIDERS, "openai_responses")
SDK_PACKAGES = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "google-genai",
    "openai_responses": "openai",
}
SDK_MODULES = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "google.genai",
    "openai_responses": "openai",
}
MODELS = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-sonnet-4-6",
    "gemini": "gemini-2.5-flash",
    "openai_responses": "gpt-5-mini",
}
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def clear_proxies() -> None:
    """Drop proxy settings: the SDKs would send even 127.0.0.1 traffic through a proxy."""
    for name in PROXY_VARIABLES:
        os.environ.pop(name, None)


def floor_request(provider: str, text: str) -> tuple[str, dict[str, Any]]:
    """The path and JSON body the SDK of `provider` sends for one user message `text`."""
    model = MODELS[provider]
    message = {"role": "user", "content": text}
    if provider == "openai":
        body: dict[str, Any] = {"model": model, "messages": [message], "stream": True}
        body["stream_options"] = {"include_usage": True}
        return "/v1/chat/completions", body
    if provider == "openai_responses":
        return "/v1/responses", {"model": model, "input": [message], "stream": True}
    if provider == "anthropic":
        return "/v1/messages", {"model": model, "max_tokens": 1024, "messages": [message], "stream": True}
    path = f"/v1beta/models/{model}:streamGenerateContent?alt=sse"
    return path, {"contents": [{"role": "user", "parts": [{"text": text}]}]}


def prompt_class(provider: str, url: str) -> Any:
    """A mirastream prompt class of `provider` pointed at the server: ``Prompt(text=...)``."""
    if provider == "openai":
        from mirastream.openai import OpenAICallParams, OpenAIPrompt

        class OpenAIBench(OpenAIPrompt):
            prompt_template = "USER: {text}"
            text: str
            base_url = f"{url}/v1"
            call_params = OpenAICallParams(model=MODELS["openai"])

        return OpenAIBench
    if provider == "openai_responses":
        from mirastream.openai import OpenAIResponsesCallParams, OpenAIResponsesPrompt

        class OpenAIResponsesBench(OpenAIResponsesPrompt):
            prompt_template = "USER: {text}"
            text: str
            base_url = f"{url}/v1"
            call_params = OpenAIResponsesCallParams(model=MODELS["openai_responses"])

        return OpenAIResponsesBench
    if provider == "anthropic":
        from mirastream.anthropic import AnthropicCallParams, AnthropicPrompt

        class AnthropicBench(AnthropicPrompt):
            prompt_template = "USER: {text}"
            text: str
            base_url = url
            call_params = AnthropicCallParams(model=MODELS["anthropic"], max_tokens=1024)

        return AnthropicBench
    from mirastream.gemini import GeminiCallParams, GeminiPrompt

    class GeminiBench(GeminiPrompt):
        prompt_template = "USER: {text}"
        text: str
        base_url = url
        call_params = GeminiCallParams(model=MODELS["gemini"])

    return GeminiBench


def memory_kib(field_name: str) -> int:
    """`VmRSS` or `VmHWM` of this process, in KiB (0 where /proc is missing)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


def reset_peak_rss() -> None:
    """Restart the peak RSS (`VmHWM`) from the current RSS, where Linux allows it."""
    with suppress(OSError):  # if not, the peak includes what came before, which is small
        Path("/proc/self/clear_refs").write_text("5")


def run_child(module: str, arguments: Sequence[str], timeout: float) -> Any:
    """Run ``python -m <module> <arguments>`` from the repository root; its last stdout line, as JSON."""
    command = [sys.executable, "-m", module, *arguments]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(f"{' '.join(command[1:])} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def median(values: Sequence[float]) -> float:
    """The median of `values`."""
    return statistics.median(values)


def span(values: Sequence[float], digits: int = 2, unit: str = "") -> str:
    """`median (min-max)` of `values`, or the one value alone."""
    if len(values) == 1:
        return f"{values[0]:,.{digits}f}{unit}"
    low, high = min(values), max(values)
    return f"{median(values):,.{digits}f}{unit} ({low:,.{digits}f}-{high:,.{digits}f})"
