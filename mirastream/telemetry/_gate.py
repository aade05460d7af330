"""Whether a stream gets telemetry: decided per stream, at almost no cost when it gets none.

Nothing here imports OpenTelemetry. Automatic mode (the default) attaches telemetry only when
the application has configured an SDK: OpenTelemetry is imported already and its global
tracer or meter provider is a real one (not the API's proxy or no-op provider).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._provider import ProviderCall
    from .._run import Run
    from ..messages import Message
    from ..params import BaseCallParams
    from ._observer import RunTelemetry

CallFactory = Callable[[Sequence["Message"]], "ProviderCall[Any]"]

CONTENT_VARIABLE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_CONTENT_ON = frozenset({"true", "1", "yes", "span_only", "span_and_event"})
_DISABLED_VARIABLE = "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"


@dataclass(frozen=True)
class Settings:
    """What `mirastream.telemetry.instrument` chose (`None`: the global provider, the environment)."""

    tracer_provider: Any = None
    meter_provider: Any = None
    capture_content: bool | None = None
    automatic: bool = False


AUTOMATIC = Settings(automatic=True)
settings: Settings | None = AUTOMATIC  # `None`: turned off by `uninstrument()`


def configure(new: Settings | None) -> None:
    """Use `new` for the streams made from now on (`None`: no telemetry at all)."""
    global settings
    settings = new


def capture_content(chosen: bool | None) -> bool:
    """Whether message content is recorded: `chosen`, else the conventions' environment variable."""
    if chosen is not None:
        return chosen
    return os.environ.get(CONTENT_VARIABLE, "").strip().lower() in _CONTENT_ON


def observed(
    prompt_class: type[Any], params: BaseCallParams, make_call: CallFactory
) -> tuple[CallFactory, RunTelemetry | None]:
    """`make_call` and no observer, or both instrumented when telemetry is on for this stream."""
    chosen = settings
    if chosen is None:
        return make_call, None
    if chosen.automatic and not _sdk_configured():
        return make_call, None
    from ._observer import observe

    return observe(chosen, prompt_class, params, make_call)


def attach(run: Run, telemetry: RunTelemetry | None) -> None:
    """Let `telemetry` observe `run` (nothing when it is `None`)."""
    if telemetry is not None:
        telemetry.attach(run)


def _sdk_configured() -> bool:
    """Whether the application configured an OpenTelemetry SDK (cheap: no import, no allocation)."""
    trace = sys.modules.get("opentelemetry.trace")
    metrics = sys.modules.get("opentelemetry.metrics")
    if trace is None and metrics is None:
        return False
    if "mirastream" in os.environ.get(_DISABLED_VARIABLE, ""):
        return False
    return (trace is not None and _real(trace.get_tracer_provider())) or (
        metrics is not None and _real(metrics.get_meter_provider())
    )


def _real(provider: object) -> bool:
    """A provider of an SDK (or a vendor's), not the API's proxy or no-op one."""
    return not type(provider).__module__.startswith(("opentelemetry.trace", "opentelemetry.metrics"))
