"""The four ways of reading one benchmark stream, sync and async, for each provider.

Every reader sends one request whose user message is ``bench-stream:<chunks>`` and returns
a `Reading`: the text pieces it read, one per content chunk (the caller checks them), and
the `perf_counter()` time at which the first one arrived:

- ``floor``: the HTTP library the SDKs use (`httpx2`), a minimal SSE line split and
  `json.loads`, no SDK: what reading the stream costs at least in Python.
- ``sdk``: the official SDK iterating its own stream (`chat.completions.create(stream=True)`,
  `responses.create(stream=True)`, `messages.create(stream=True)`,
  `models.generate_content_stream`), reading each chunk's text from its objects.
- ``content``: a mirastream prompt class's `stream()`, reading `.content` only.
- ``chunk``: the same, also touching `.chunk` (the SDK's own object) on every chunk.

Each function makes its client once (outside the timed reads) and returns the reader.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import Any

from bench._common import MODELS, floor_request, prompt_class

__all__ = ["ASYNC_READERS", "KINDS", "SYNC_READERS", "AsyncRead", "Read", "Reading", "prompt_text"]

KINDS = ("floor", "sdk", "content", "chunk")

Reading = tuple[list[str], float]
Read = Callable[[int], Reading]
AsyncRead = Callable[[int], Awaitable[Reading]]


def prompt_text(chunks: int) -> str:
    """The user message asking the server for a benchmark stream of `chunks` chunks."""
    return f"bench-stream:{chunks}"


# The floor ----------------------------------------------------------------------------


def _openai_text(event: dict[str, Any]) -> str | None:
    choices = event["choices"]
    return choices[0]["delta"].get("content") if choices else None


def _anthropic_text(event: dict[str, Any]) -> str | None:
    return event["delta"].get("text") if event["type"] == "content_block_delta" else None


def _gemini_text(event: dict[str, Any]) -> str | None:
    return "".join(part.get("text", "") for part in event["candidates"][0]["content"]["parts"])


def _openai_responses_text(event: dict[str, Any]) -> str | None:
    return event["delta"] if event["type"] == "response.output_text.delta" else None


FLOOR_TEXT: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "openai": _openai_text,
    "anthropic": _anthropic_text,
    "gemini": _gemini_text,
    "openai_responses": _openai_responses_text,
}


class _Floor:
    """The floor's SSE split: lines, `data:` lines decoded with `json.loads`."""

    __slots__ = ("first", "parts", "pending", "text_of")

    def __init__(self, text_of: Callable[[dict[str, Any]], str | None]) -> None:
        self.text_of = text_of
        self.parts: list[str] = []
        self.pending = b""
        self.first = 0.0

    def feed(self, data: bytes) -> None:
        *lines, self.pending = (self.pending + data).split(b"\n")
        for line in lines:
            if line.startswith(b"data: ") and line != b"data: [DONE]":
                text = self.text_of(json.loads(line[6:]))
                if text:
                    if not self.parts:
                        self.first = perf_counter()
                    self.parts.append(text)


def _floor_client_options() -> dict[str, Any]:
    import httpx2

    return {"timeout": httpx2.Timeout(600, connect=5.0), "trust_env": False}


def floor_sync(provider: str, url: str) -> Read:
    import httpx2

    client = httpx2.Client(base_url=url, **_floor_client_options())

    def read(chunks: int) -> Reading:
        path, body = floor_request(provider, prompt_text(chunks))
        floor = _Floor(FLOOR_TEXT[provider])
        with client.stream("POST", path, json=body) as response:
            response.raise_for_status()
            for data in response.iter_bytes():
                floor.feed(data)
        return floor.parts, floor.first

    return read


def floor_async(provider: str, url: str) -> AsyncRead:
    import httpx2

    client = httpx2.AsyncClient(base_url=url, **_floor_client_options())

    async def read(chunks: int) -> Reading:
        path, body = floor_request(provider, prompt_text(chunks))
        floor = _Floor(FLOOR_TEXT[provider])
        async with client.stream("POST", path, json=body) as response:
            response.raise_for_status()
            async for data in response.aiter_bytes():
                floor.feed(data)
        return floor.parts, floor.first

    return read


# The raw SDKs ------------------------------------------------------------------------


def _messages(chunks: int) -> list[Any]:
    return [{"role": "user", "content": prompt_text(chunks)}]


def sdk_sync(provider: str, url: str) -> Read:
    model = MODELS[provider]
    if provider == "openai":
        import openai

        openai_client = openai.OpenAI(api_key="bench", base_url=f"{url}/v1")

        def read_openai(chunks: int) -> Reading:
            parts: list[str] = []
            first = 0.0
            stream = openai_client.chat.completions.create(
                model=model, messages=_messages(chunks), stream=True, stream_options={"include_usage": True}
            )
            with stream:
                for chunk in stream:
                    if chunk.choices:
                        text = chunk.choices[0].delta.content
                        if text:
                            if not parts:
                                first = perf_counter()
                            parts.append(text)
            return parts, first

        return read_openai
    if provider == "openai_responses":
        import openai

        responses_client = openai.OpenAI(api_key="bench", base_url=f"{url}/v1")

        def read_openai_responses(chunks: int) -> Reading:
            parts: list[str] = []
            first = 0.0
            stream = responses_client.responses.create(model=model, input=_messages(chunks), stream=True)
            with stream:
                for event in stream:
                    if event.type == "response.output_text.delta":
                        if not parts:
                            first = perf_counter()
                        parts.append(event.delta)
            return parts, first

        return read_openai_responses
    if provider == "anthropic":
        import anthropic

        anthropic_client = anthropic.Anthropic(api_key="bench", base_url=url)

        def read_anthropic(chunks: int) -> Reading:
            parts: list[str] = []
            first = 0.0
            stream = anthropic_client.messages.create(
                model=model, max_tokens=1024, messages=_messages(chunks), stream=True
            )
            with stream:
                for event in stream:
                    if event.type == "content_block_delta" and event.delta.type == "text_delta":
                        if not parts:
                            first = perf_counter()
                        parts.append(event.delta.text)
            return parts, first

        return read_anthropic
    from google import genai
    from google.genai import types

    options = types.HttpOptions(base_url=url)
    gemini_client = genai.Client(api_key="bench", vertexai=False, http_options=options)

    def read_gemini(chunks: int) -> Reading:
        parts: list[str] = []
        first = 0.0
        stream = gemini_client.models.generate_content_stream(model=model, contents=prompt_text(chunks))
        for response in stream:
            if not parts:
                first = perf_counter()
            parts.append(_gemini_sdk_text(response))
        return parts, first

    return read_gemini


def _gemini_sdk_text(response: Any) -> str:
    content = response.candidates[0].content
    return "".join(part.text for part in content.parts if part.text)


def sdk_async(provider: str, url: str) -> AsyncRead:
    model = MODELS[provider]
    if provider == "openai":
        import openai

        openai_client = openai.AsyncOpenAI(api_key="bench", base_url=f"{url}/v1")

        async def read_openai(chunks: int) -> Reading:
            parts: list[str] = []
            first = 0.0
            stream = await openai_client.chat.completions.create(
                model=model, messages=_messages(chunks), stream=True, stream_options={"include_usage": True}
            )
            async with stream:
                async for chunk in stream:
                    if chunk.choices:
                        text = chunk.choices[0].delta.content
                        if text:
                            if not parts:
                                first = perf_counter()
                            parts.append(text)
            return parts, first

        return read_openai
    if provider == "openai_responses":
        import openai

        responses_client = openai.AsyncOpenAI(api_key="bench", base_url=f"{url}/v1")

        async def read_openai_responses(chunks: int) -> Reading:
            parts: list[str] = []
            first = 0.0
            stream = await responses_client.responses.create(
                model=model, input=_messages(chunks), stream=True
            )
            async with stream:
                async for event in stream:
                    if event.type == "response.output_text.delta":
                        if not parts:
                            first = perf_counter()
                        parts.append(event.delta)
            return parts, first

        return read_openai_responses
    if provider == "anthropic":
        import anthropic

        anthropic_client = anthropic.AsyncAnthropic(api_key="bench", base_url=url)

        async def read_anthropic(chunks: int) -> Reading:
            parts: list[str] = []
            first = 0.0
            stream = await anthropic_client.messages.create(
                model=model, max_tokens=1024, messages=_messages(chunks), stream=True
            )
            async with stream:
                async for event in stream:
                    if event.type == "content_block_delta" and event.delta.type == "text_delta":
                        if not parts:
                            first = perf_counter()
                        parts.append(event.delta.text)
            return parts, first

        return read_anthropic
    from google import genai
    from google.genai import types

    options = types.HttpOptions(base_url=url)
    gemini_client = genai.Client(api_key="bench", vertexai=False, http_options=options)

    async def read_gemini(chunks: int) -> Reading:
        parts: list[str] = []
        first = 0.0
        models = gemini_client.aio.models
        stream = await models.generate_content_stream(model=model, contents=prompt_text(chunks))
        async for response in stream:
            if not parts:
                first = perf_counter()
            parts.append(_gemini_sdk_text(response))
        return parts, first

    return read_gemini


# mirastream ---------------------------------------------------------------------------


def _mirastream_sync(provider: str, url: str, touch: bool) -> Read:
    prompt = prompt_class(provider, url)

    def read(chunks: int) -> Reading:
        parts: list[str] = []
        first = 0.0
        with prompt(text=prompt_text(chunks)).stream() as stream:
            for chunk in stream:
                if touch:
                    chunk.chunk  # noqa: B018 - builds the SDK's object, as a consumer asking for it does
                if chunk.content:
                    if not parts:
                        first = perf_counter()
                    parts.append(chunk.content)
        return parts, first

    return read


def _mirastream_async(provider: str, url: str, touch: bool) -> AsyncRead:
    prompt = prompt_class(provider, url)

    async def read(chunks: int) -> Reading:
        parts: list[str] = []
        first = 0.0
        async with prompt(text=prompt_text(chunks)).stream_async() as stream:
            async for chunk in stream:
                if touch:
                    chunk.chunk  # noqa: B018 - builds the SDK's object, as a consumer asking for it does
                if chunk.content:
                    if not parts:
                        first = perf_counter()
                    parts.append(chunk.content)
        return parts, first

    return read


SYNC_READERS: dict[str, Callable[[str, str], Read]] = {
    "floor": floor_sync,
    "sdk": sdk_sync,
    "content": lambda provider, url: _mirastream_sync(provider, url, touch=False),
    "chunk": lambda provider, url: _mirastream_sync(provider, url, touch=True),
}
ASYNC_READERS: dict[str, Callable[[str, str], AsyncRead]] = {
    "floor": floor_async,
    "sdk": sdk_async,
    "content": lambda provider, url: _mirastream_async(provider, url, touch=False),
    "chunk": lambda provider, url: _mirastream_async(provider, url, touch=True),
}
