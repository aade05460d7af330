"""OpenTelemetry traces and metrics of every stream, following the GenAI semantic conventions.

Install the extra (`pip install "mirastream[otel]"`) and configure an OpenTelemetry SDK in
your application: every stream then records its spans (`chat gpt-4o`, `execute_tool
code_interpreter`, `invoke_agent ...`) and metrics through the global providers, with no
call to mirastream. Without an SDK configured, nothing is attached to a stream.

`instrument` chooses providers of your own (tests, a second pipeline) or turns recording of
message content on; `uninstrument` turns telemetry off. Message content (prompts, answers,
code, tool output) is recorded only when you opt in: `instrument(capture_content=True)` or
`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`. See docs/observability.md.
"""

from __future__ import annotations

from typing import Any

from ._gate import AUTOMATIC, CONTENT_VARIABLE, Settings, configure

__all__ = ["CONTENT_VARIABLE", "instrument", "uninstrument"]


def instrument(
    *, tracer_provider: Any = None, meter_provider: Any = None, capture_content: bool | None = None
) -> None:
    """Record every stream made from now on, whether or not a global SDK is configured.

    Args:
        tracer_provider: the `TracerProvider` to record spans with; default the global one.
        meter_provider: the `MeterProvider` to record metrics with; default the global one.
        capture_content: record prompts, answers, tool arguments and results on the spans;
            default: what `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` says (off
            unless `true`, `span_only` or `span_and_event`).

    Raises:
        MissingDependencyError: `opentelemetry-api` is not installed (the `otel` extra).
    """
    from .._clients import require_module

    require_module("opentelemetry.trace", extra="otel")
    configure(
        Settings(
            tracer_provider=tracer_provider, meter_provider=meter_provider, capture_content=capture_content
        )
    )


def uninstrument(*, automatic: bool = False) -> None:
    """Record nothing for the streams made from now on.

    Args:
        automatic: go back to the default instead: record through the global providers
            when the application configured an OpenTelemetry SDK.
    """
    configure(AUTOMATIC if automatic else None)
