"""The tracer and the metric instruments, made once per pair of providers."""

from __future__ import annotations

import threading
from typing import Any

from opentelemetry import metrics, trace

from .._version import __version__

SCOPE = "mirastream"
SCHEMA_URL = "https://opentelemetry.io/schemas/1.40.0"

# The bucket boundaries the conventions advise.
_SECONDS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
_AGENT_SECONDS = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4, 204.8, 409.6)


class Instruments:
    """The tracer and every metric instrument mirastream records to."""

    def __init__(self, tracer_provider: Any, meter_provider: Any) -> None:
        self.tracer = trace.get_tracer(SCOPE, __version__, tracer_provider, schema_url=SCHEMA_URL)
        meter = metrics.get_meter(SCOPE, __version__, meter_provider, schema_url=SCHEMA_URL)
        seconds = meter.create_histogram
        self.inference_duration = seconds(
            "gen_ai.client.inference.duration",
            "s",
            "GenAI client inference operation duration.",
            explicit_bucket_boundaries_advisory=_SECONDS,
        )
        self.time_to_first_chunk = seconds(
            "gen_ai.client.inference.time_to_first_chunk",
            "s",
            "Time to receive the first chunk, from when the client issues the generation request.",
            explicit_bucket_boundaries_advisory=_SECONDS,
        )
        self.time_per_output_chunk = seconds(
            "gen_ai.client.inference.time_per_output_chunk",
            "s",
            "Time per output chunk after the first, from the end of the previous chunk.",
            explicit_bucket_boundaries_advisory=_SECONDS,
        )
        self.tool_duration = seconds(
            "gen_ai.execute_tool.duration",
            "s",
            "The duration of a single tool execution.",
            explicit_bucket_boundaries_advisory=_SECONDS,
        )
        self.agent_duration = seconds(
            "gen_ai.invoke_agent.duration",
            "s",
            "The end-to-end duration of a single agent invocation.",
            explicit_bucket_boundaries_advisory=_AGENT_SECONDS,
        )
        tokens = meter.create_counter
        self.input_tokens = tokens(
            "gen_ai.client.inference.usage.input_tokens",
            "{token}",
            "The number of input (prompt) tokens used, including cached tokens.",
        )
        self.output_tokens = tokens(
            "gen_ai.client.inference.usage.output_tokens",
            "{token}",
            "The number of output (completion) tokens used, including reasoning tokens.",
        )
        self.cache_read_tokens = tokens(
            "gen_ai.client.inference.usage.cache_read.input_tokens",
            "{token}",
            "The number of input tokens served from a provider-managed cache.",
        )
        self.reasoning_tokens = tokens(
            "gen_ai.client.inference.usage.reasoning.output_tokens",
            "{token}",
            "The number of output tokens used for reasoning.",
        )


_lock = threading.Lock()
_made: dict[tuple[int, int], tuple[Any, Any, Instruments]] = {}


def instruments(tracer_provider: Any, meter_provider: Any) -> Instruments:
    """The instruments for these providers (`None`: the global one at the time), made once."""
    tracer_provider = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
    meter_provider = meter_provider if meter_provider is not None else metrics.get_meter_provider()
    key = (id(tracer_provider), id(meter_provider))
    made = _made.get(key)
    if made is not None and made[0] is tracer_provider and made[1] is meter_provider:
        return made[2]
    with _lock:
        made = _made.get(key)
        if made is None or made[0] is not tracer_provider or made[1] is not meter_provider:
            if len(_made) >= 16:  # providers replaced again and again (tests): forget the old ones
                _made.clear()
            made = _made[key] = (
                tracer_provider,
                meter_provider,
                Instruments(tracer_provider, meter_provider),
            )
        return made[2]
