"""The cost of telemetry: µs per chunk and import time, without and with an OpenTelemetry SDK.

    python -m bench.telemetry [--chunks 20000] [--rounds 5] [--providers openai]

Each provider's stream of `chunks` chunks is read in this process, sync, in three settings
in a rotating order: `off` (`mirastream.telemetry.uninstrument()`: no telemetry at all),
`no-sdk` (the default: OpenTelemetry's API imported, no SDK configured, so nothing is
attached) and `sdk` (an SDK `TracerProvider` with a span processor and a `MeterProvider`
with a reader: every span and metric recorded). Reported: the median µs per chunk (CPU) of
each, and the median wall time of `import mirastream, mirastream.openai` in a fresh process,
alone and after the SDK was imported and configured.
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
from collections.abc import Sequence
from time import perf_counter, process_time

from bench._common import PROVIDERS, clear_proxies, median, prompt_class
from bench._readers import prompt_text
from bench._sse_server import ServerProcess

SETTINGS = ("off", "no-sdk", "sdk")
IMPORT = "import mirastream, mirastream.openai"
WITH_SDK = (
    "from opentelemetry import trace; from opentelemetry.sdk.trace import TracerProvider; "
    "trace.set_tracer_provider(TracerProvider()); "
)


def _configure(setting: str) -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from mirastream import telemetry

    if setting == "off":
        telemetry.uninstrument()
    elif setting == "no-sdk":
        telemetry.uninstrument(automatic=True)
    else:
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
        meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
        telemetry.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)


def per_chunk(provider: str, url: str, chunks: int, rounds: int) -> dict[str, float]:
    """Median CPU µs per chunk of each setting."""
    prompt = prompt_class(provider, url)(text=prompt_text(chunks))
    timings: dict[str, list[float]] = {setting: [] for setting in SETTINGS}
    for setting in SETTINGS:  # warm-up
        _configure(setting)
        prompt.stream().collect()
    for number in range(rounds):
        for setting in SETTINGS[number % 3 :] + SETTINGS[: number % 3]:
            _configure(setting)
            gc.collect()
            started = process_time()
            response = prompt.stream().collect()
            timings[setting].append((process_time() - started) / chunks * 1e6)
            assert len(response.text) > 0
    return {setting: median(values) for setting, values in timings.items()}


def import_time(prefix: str, reps: int = 7) -> float:
    """Median ms of `IMPORT` in a fresh process, after `prefix`."""
    code = f"import time; {prefix}t = time.perf_counter(); {IMPORT}; print(time.perf_counter() - t)"
    values = []
    for _ in range(reps):
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        values.append(float(result.stdout) * 1000)
    return median(values)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--providers", default=",".join(PROVIDERS))
    args = parser.parse_args(argv)
    clear_proxies()
    started = perf_counter()
    print("| provider | off (µs/chunk) | no SDK | SDK configured |")
    print("| --- | --- | --- | --- |")
    with ServerProcess(lifetime=3600) as url:
        for provider in args.providers.split(","):
            found = per_chunk(provider, url, args.chunks, args.rounds)
            print(f"| {provider} | {found['off']:.2f} | {found['no-sdk']:.2f} | {found['sdk']:.2f} |")
    print()
    print(
        f"import mirastream, mirastream.openai: {import_time(''):.0f} ms alone, "
        f"{import_time(WITH_SDK):.0f} ms after configuring an SDK (the SDK's own import not counted)"
    )
    print(f"({args.chunks} chunks, {args.rounds} rounds, {perf_counter() - started:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
