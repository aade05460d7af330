"""OpenTelemetry spans and metrics of every stream, read with the SDK's in-memory exporter and reader.

Real SDKs talk to the loopback server; the spans and metrics are checked against the GenAI
semantic conventions (names, kinds, attributes, parents) and against what the server did
(the delay before the first chunk, the usage in the transcript, the failed attempts).
"""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from mirastream import telemetry
from mirastream.errors import ServerError

from .loopback import LoopbackServer
from .reading import MODES, consume
from .test_contract import HARNESSES, SCENARIOS, Harness
from .test_faults import FAST_RETRIES, error_reply

PROVIDERS = [harness for harness in HARNESSES if harness.name in ("openai", "anthropic", "gemini")]
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-sonnet-4-6", "gemini": "gemini-2.5-flash"}
PROVIDER_NAMES = {"openai": "openai", "anthropic": "anthropic", "gemini": "gcp.gemini"}
OPERATIONS = {"openai": "chat", "anthropic": "chat", "gemini": "generate_content"}


class Recorded:
    """The spans and metrics recorded while a test ran."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        (span,) = [span for span in self.spans() if span.name == name]
        return span

    def points(self, metric: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        found = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for each in scope.metrics:
                    if each.name == metric:
                        found.append((each.unit, list(each.data.data_points)))
        assert len(found) <= 1
        return [(unit, point) for unit, points in found for point in points]


@pytest.fixture
def recorded() -> Iterator[Recorded]:
    record = Recorded()
    telemetry.instrument(tracer_provider=record.tracer_provider, meter_provider=record.meter_provider)
    yield record
    telemetry.uninstrument(automatic=True)
    record.tracer_provider.shutdown()
    record.meter_provider.shutdown()


@pytest.fixture(params=PROVIDERS, ids=lambda harness: harness.name)
def harness(
    request: pytest.FixtureRequest, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> Harness:
    chosen: Harness = request.param
    chosen.setup(server, monkeypatch)
    return chosen


def chat_span(recorded: Recorded, harness: Harness) -> ReadableSpan:
    return recorded.span(f"{OPERATIONS[harness.name]} {MODELS[harness.name]}")


# One model turn ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_stream_is_one_client_span_with_the_conventions_attributes(
    harness: Harness, server: LoopbackServer, recorded: Recorded, mode: str
) -> None:
    server.queue(harness.reply("text", pauses={0: 0.3}))
    _, response, error = consume(harness.prompt_class()(ingredient="apples"), mode)
    assert error is None

    (span,) = recorded.spans()
    assert span.name == f"{OPERATIONS[harness.name]} {MODELS[harness.name]}"
    assert span.kind is SpanKind.CLIENT
    assert span.parent is None
    assert span.status.status_code is StatusCode.UNSET
    attributes = dict(span.attributes or {})
    expected_usage = SCENARIOS["text"].usage
    assert expected_usage is not None
    assert attributes["gen_ai.operation.name"] == OPERATIONS[harness.name]
    assert attributes["gen_ai.provider.name"] == PROVIDER_NAMES[harness.name]
    assert attributes["gen_ai.request.model"] == MODELS[harness.name]
    assert attributes["gen_ai.request.stream"] is True
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["server.port"] == server.port
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert attributes["gen_ai.response.model"] == response.model
    if response.id is not None:
        assert attributes["gen_ai.response.id"] == response.id
    assert (
        attributes["gen_ai.usage.input_tokens"],
        attributes["gen_ai.usage.output_tokens"],
    ) == expected_usage
    assert attributes["mirastream.attempts"] == 1
    assert 0.3 <= attributes["gen_ai.response.time_to_first_chunk"] < 5
    # no content unless asked for
    assert not {key for key in attributes if key.endswith(("messages", "instructions"))}

    ((unit, first),) = recorded.points("gen_ai.client.inference.time_to_first_chunk")
    assert unit == "s" and first.count == 1 and 0.3 <= first.sum < 5
    assert first.attributes["gen_ai.provider.name"] == PROVIDER_NAMES[harness.name]
    ((unit, duration),) = recorded.points("gen_ai.client.inference.duration")
    assert unit == "s" and duration.count == 1 and duration.sum >= first.sum
    assert duration.attributes["gen_ai.response.model"] == response.model
    assert "error.type" not in duration.attributes
    ((unit, tokens_in),) = recorded.points("gen_ai.client.inference.usage.input_tokens")
    ((_, tokens_out),) = recorded.points("gen_ai.client.inference.usage.output_tokens")
    assert unit == "{token}" and (tokens_in.value, tokens_out.value) == expected_usage
    assert tokens_in.attributes["gen_ai.token.modality"] == "unknown"
    chunks = recorded.points("gen_ai.client.inference.time_per_output_chunk")
    assert chunks and chunks[0][0] == "s" and chunks[0][1].count >= 1


def test_request_parameters_are_attributes(
    server: LoopbackServer, recorded: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = PROVIDERS[0]
    harness.setup(server, monkeypatch)
    server.queue(harness.reply("text"))
    prompt = harness.prompt_class()(ingredient="apples")
    consume(prompt, "sync", temperature=0.2, top_p=0.9, max_tokens=64, seed=7, stop=["END"], n=2)
    attributes = dict(recorded.spans()[0].attributes or {})
    assert attributes["gen_ai.request.temperature"] == 0.2
    assert attributes["gen_ai.request.top_p"] == 0.9
    assert attributes["gen_ai.request.max_tokens"] == 64
    assert attributes["gen_ai.request.seed"] == 7
    assert attributes["gen_ai.request.stop_sequences"] == ("END",)
    assert attributes["gen_ai.request.choice.count"] == 2


@pytest.mark.parametrize("mode", MODES)
def test_retries_are_exception_events_on_the_one_span_of_the_turn(
    harness: Harness, server: LoopbackServer, recorded: Recorded, mode: str
) -> None:
    server.queue(error_reply(harness.name, 503), error_reply(harness.name, 503), harness.reply("text"))
    _, _, error = consume(harness.prompt_class()(ingredient="apples"), mode, retries=FAST_RETRIES)
    assert error is None and len(server.requests) == 3

    span = chat_span(recorded, harness)
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes or {})["mirastream.attempts"] == 3
    failures = [event for event in span.events if event.name == "exception"]
    assert [event.attributes["mirastream.attempt"] for event in failures] == [1, 2]  # type: ignore[index]
    assert {event.attributes["exception.type"] for event in failures} == {  # type: ignore[index]
        "mirastream.errors.ServerError"
    }
    retries = [event.attributes for event in span.events if event.name == "mirastream.retry"]
    assert [attributes["mirastream.attempt"] for attributes in retries] == [2, 3]  # type: ignore[index]


@pytest.mark.parametrize("mode", MODES)
def test_a_failed_stream_ends_its_span_with_the_error(
    harness: Harness, server: LoopbackServer, recorded: Recorded, mode: str
) -> None:
    server.queue(harness.reply("error_event"))
    _, _, error = consume(harness.prompt_class()(ingredient="apples"), mode)
    assert isinstance(error, ServerError)

    span = chat_span(recorded, harness)
    attributes = dict(span.attributes or {})
    assert span.status.status_code is StatusCode.ERROR
    assert attributes["error.type"] == "ServerError"
    assert attributes["gen_ai.response.finish_reasons"] == ("error",)
    assert [event.name for event in span.events] == ["exception"]
    ((_, duration),) = recorded.points("gen_ai.client.inference.duration")
    assert duration.attributes["error.type"] == "ServerError"


# Every way a stream can stop ----------------------------------------------------------------


def assert_interrupted(recorded: Recorded, harness: Harness, error_type: str | None = None) -> None:
    span = chat_span(recorded, harness)
    attributes = dict(span.attributes or {})
    assert span.end_time is not None
    assert attributes["gen_ai.response.finish_reasons"] == ("error",)
    if error_type is None:
        assert attributes["mirastream.interrupted"] is True
        assert span.status.status_code is StatusCode.UNSET
    else:
        assert attributes["error.type"] == error_type
        assert span.status.status_code is StatusCode.ERROR
    ((_, duration),) = recorded.points("gen_ai.client.inference.duration")
    assert duration.count == 1


@pytest.mark.parametrize("mode", MODES)
def test_a_break_ends_the_span(
    harness: Harness, server: LoopbackServer, recorded: Recorded, mode: str
) -> None:
    server.queue(harness.reply("text", piece_size=8, delay=0.01))
    chunks, _, error = consume(harness.prompt_class()(ingredient="apples"), mode, stop_after=1)
    assert error is None and len(chunks) == 1
    assert_interrupted(recorded, harness)


def test_close_ends_the_span(harness: Harness, server: LoopbackServer, recorded: Recorded) -> None:
    server.queue(harness.reply("text", piece_size=8, delay=0.01))
    stream = harness.prompt_class()(ingredient="apples").stream()
    items = iter(stream)
    next(items)
    assert recorded.spans() == []
    stream.close()
    assert_interrupted(recorded, harness)


def test_a_dropped_stream_ends_the_span_when_collected(
    harness: Harness, server: LoopbackServer, recorded: Recorded
) -> None:
    server.queue(harness.reply("text", piece_size=8, delay=0.01))
    stream = harness.prompt_class()(ingredient="apples").stream()
    items = iter(stream)
    next(items)
    del stream, items
    gc.collect()
    assert_interrupted(recorded, harness)


def test_a_dropped_async_stream_ends_the_span(
    harness: Harness, server: LoopbackServer, recorded: Recorded
) -> None:
    server.queue(harness.reply("text", piece_size=8, delay=0.01))

    async def read_one_and_drop() -> None:
        items = harness.prompt_class()(ingredient="apples").stream_async().__aiter__()
        await anext(items)
        del items
        gc.collect()
        for _ in range(50):
            await asyncio.sleep(0.01)
            if recorded.spans():
                return

    asyncio.run(read_one_and_drop())
    assert_interrupted(recorded, harness)


def test_a_run_collected_without_ending_ends_its_spans(
    harness: Harness, server: LoopbackServer, recorded: Recorded
) -> None:
    """The last resort, for an async stream whose event loop closed without finalising it."""
    stream = harness.prompt_class()(ingredient="apples").stream()
    run = stream._run
    assert run.observer is not None
    run.observer.attempt_started(run.call, 1)  # as the driver does when it sends the request
    assert recorded.spans() == []
    del stream, run
    gc.collect()
    span = chat_span(recorded, harness)
    assert dict(span.attributes or {})["mirastream.interrupted"] is True


def test_ctrl_c_while_waiting_ends_the_span_with_the_interrupt(
    harness: Harness, server: LoopbackServer, recorded: Recorded
) -> None:
    import _thread

    server.queue(harness.reply("text", pauses={2: 5.0}))
    stream = harness.prompt_class()(ingredient="apples").stream()
    timer = threading.Timer(0.3, _thread.interrupt_main)
    interrupted = False
    try:
        with stream:
            timer.start()
            for _ in stream:
                pass
    except KeyboardInterrupt:
        interrupted = True
    timer.cancel()
    assert interrupted
    assert_interrupted(recorded, harness, "KeyboardInterrupt")


def test_task_cancellation_ends_the_span(
    harness: Harness, server: LoopbackServer, recorded: Recorded
) -> None:
    server.queue(harness.reply("text", pauses={2: 5.0}))

    async def read() -> None:
        async with harness.prompt_class()(ingredient="apples").stream_async() as stream:
            async for _ in stream:
                pass

    async def cancel_soon() -> None:
        task = asyncio.create_task(read())
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_soon())
    assert_interrupted(recorded, harness, "CancelledError")


# Content, and when telemetry is on ------------------------------------------------------------


def test_content_is_recorded_only_when_opted_in(
    server: LoopbackServer, recorded: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = PROVIDERS[1]
    harness.setup(server, monkeypatch)
    server.queue(harness.reply("text"), harness.reply("text"))
    consume(harness.prompt_class()(ingredient="apples"), "sync")
    monkeypatch.setenv(telemetry.CONTENT_VARIABLE, "true")
    consume(harness.prompt_class()(ingredient="apples"), "sync")
    plain, captured = (dict(span.attributes or {}) for span in recorded.spans())
    assert "gen_ai.input.messages" not in plain and "gen_ai.output.messages" not in plain
    assert captured["gen_ai.system_instructions"] == (
        '[{"type": "text", "content": "You are a chef who answers briefly."}]'
    )
    assert "Recommend recipes that use apples" in str(captured["gen_ai.input.messages"])
    assert "Try apple crumble" in str(captured["gen_ai.output.messages"])


def test_explicit_choice_wins_over_the_environment(
    server: LoopbackServer, recorded: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = PROVIDERS[0]
    harness.setup(server, monkeypatch)
    monkeypatch.setenv(telemetry.CONTENT_VARIABLE, "true")
    telemetry.instrument(
        tracer_provider=recorded.tracer_provider,
        meter_provider=recorded.meter_provider,
        capture_content=False,
    )
    server.queue(harness.reply("text"))
    consume(harness.prompt_class()(ingredient="apples"), "sync")
    assert "gen_ai.input.messages" not in dict(recorded.spans()[0].attributes or {})


def test_nothing_is_attached_without_a_configured_sdk(
    harness: Harness, recorded: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    telemetry.uninstrument(automatic=True)  # the default: the global providers, which are the API's
    assert harness.prompt_class()(ingredient="apples").stream()._run.observer is None
    telemetry.uninstrument()
    assert harness.prompt_class()(ingredient="apples").stream()._run.observer is None


def test_a_global_sdk_is_used_without_any_call_to_mirastream() -> None:
    script = textwrap.dedent(
        """
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from mirastream.openai import OpenAIPrompt

        class P(OpenAIPrompt):
            prompt_template = "hi"
            api_key = "sk-test"

        assert P().stream()._run.observer is None
        trace.set_tracer_provider(TracerProvider())
        assert P().stream()._run.observer is not None
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
