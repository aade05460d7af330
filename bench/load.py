"""Load benchmark: N concurrent `stream_async()` calls over loopback, every response checked.

    python -m bench.load [--streams 1000] [--chunks 50] [--provider openai|anthropic|gemini]

Run it from the repository root. It starts `bench/_sse_server.py` in a child process (its
own core), then reads the same N concurrent streams three ways, each run in a fresh Python
process, `--runs` times over:

- ``floor``: plain `httpx2.AsyncClient`, an SSE line split and `json.loads`, no SDK;
- ``sdk``: the provider's official SDK alone (`chat.completions.create(stream=True)`, ...);
- ``mirastream``: a prompt class's `stream_async()`, the same SDK underneath, through
  mirastream's default clients (which spread the streams over several connection pools).

Every response is checked: its text (unique to its stream), its number of text chunks, its
finish reason and its usage. It prints a Markdown table (median wall and CPU time with min
to max, streams/s, chunks/s, peak RSS, failures) and the ratios mirastream/floor and
mirastream/sdk, and exits with status 1 if any stream failed. Each ratio is taken within a
run (the readers of one run follow each other closely) and the median over runs is shown,
which keeps the ratios steady on a busy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from time import perf_counter, process_time
from typing import Any

from bench._common import (
    MODELS,
    PROVIDERS,
    PROXY_VARIABLES,
    ROOT,
    SDK_PACKAGES,
    clear_proxies,
    floor_request,
    memory_kib,
    prompt_class,
    reset_peak_rss,
)
from bench._sse_server import ServerProcess, expected_text, fetch_stats, usage_of

__all__ = [
    "PROXY_VARIABLES",
    "READERS",
    "WARM_UP_STREAMS",
    "PhaseResult",
    "measure",
    "raise_open_file_limit",
    "run_rounds",
]

READERS = ("floor", "sdk", "mirastream")
# The finish reason as each provider sends it; mirastream normalises all three to "stop".
RAW_FINISH = {"openai": "stop", "anthropic": "end_turn", "gemini": "STOP"}
WARM_UP_STREAMS = 10

Read = Callable[[int], Awaitable["Outcome"]]


def prompt_text(stream: int, chunks: int) -> str:
    """The user message of stream `stream`: it tells the server what to send."""
    return f"Stream load-stream:{stream}:{chunks}"


@dataclass
class Outcome:
    """What one stream delivered, as any reader saw it."""

    parts: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None

    def problem(self, stream: int, chunks: int, finish_reason: str) -> str | None:
        """What is wrong with this outcome of stream `stream`, or `None` if it is intact."""
        text = "".join(self.parts)
        if text != expected_text(stream, chunks):
            return f"stream {stream}: wrong text {text[:40]!r}... ({len(text)} characters)"
        if len(self.parts) != chunks:
            return f"stream {stream}: {len(self.parts)} text chunks, expected {chunks}"
        if self.finish_reason != finish_reason:
            return f"stream {stream}: finish reason {self.finish_reason!r}, expected {finish_reason!r}"
        if (self.input_tokens, self.output_tokens) != usage_of(stream, chunks):
            return f"stream {stream}: usage {self.input_tokens}/{self.output_tokens}"
        return None

    def add_event(self, provider: str, event: dict[str, Any]) -> None:
        """Take one decoded SSE event of `provider`'s wire format into account (the floor)."""
        if provider == "openai":
            if event["choices"]:
                choice = event["choices"][0]
                if choice["delta"].get("content"):
                    self.parts.append(choice["delta"]["content"])
                self.finish_reason = choice["finish_reason"] or self.finish_reason
            if event.get("usage"):
                self.input_tokens = event["usage"]["prompt_tokens"]
                self.output_tokens = event["usage"]["completion_tokens"]
        elif provider == "anthropic":
            if event["type"] == "content_block_delta":
                self.parts.append(event["delta"]["text"])
            elif event["type"] == "message_start":
                self.input_tokens = event["message"]["usage"]["input_tokens"]
            elif event["type"] == "message_delta":
                self.finish_reason = event["delta"]["stop_reason"]
                self.output_tokens = event["usage"]["output_tokens"]
        else:
            candidate = event["candidates"][0]
            self.parts.extend(part["text"] for part in candidate["content"]["parts"])
            self.finish_reason = candidate.get("finishReason", self.finish_reason)
            self.input_tokens = event["usageMetadata"]["promptTokenCount"]
            self.output_tokens = event["usageMetadata"].get("candidatesTokenCount")


@dataclass
class PhaseResult:
    """One timed run of one reader: N concurrent streams."""

    reader: str
    provider: str
    streams: int
    chunks: int
    wall: float
    cpu: float
    problems: list[str]
    failures: int
    rss_before_kib: int
    peak_rss_kib: int
    server_peak_streams: int = 0
    server_peak_connections: int = 0
    server_cpu_seconds: float = 0.0


# Readers: each opens its client(s) in the running loop and yields a function reading stream n.


@asynccontextmanager
async def _floor(provider: str, url: str, chunks: int) -> AsyncIterator[Read]:
    import httpx2

    # No connection cap: the floor is what the transport can do.
    limits = httpx2.Limits(max_connections=None, max_keepalive_connections=100)
    timeout = httpx2.Timeout(600, connect=5.0)
    async with httpx2.AsyncClient(base_url=url, limits=limits, timeout=timeout, trust_env=False) as client:

        async def read(stream: int) -> Outcome:
            path, body = floor_request(provider, prompt_text(stream, chunks))
            outcome = Outcome()
            async with client.stream("POST", path, json=body) as response:
                response.raise_for_status()
                pending = b""
                async for data in response.aiter_bytes():
                    *lines, pending = (pending + data).split(b"\n")
                    for line in lines:
                        if line.startswith(b"data: ") and line != b"data: [DONE]":
                            outcome.add_event(provider, json.loads(line[6:]))
            return outcome

        yield read


@asynccontextmanager
async def _sdk(provider: str, url: str, chunks: int) -> AsyncIterator[Read]:
    model = MODELS[provider]
    if provider == "openai":
        import openai

        openai_client = openai.AsyncOpenAI(api_key="load", base_url=f"{url}/v1")

        async def read_openai(stream: int) -> Outcome:
            outcome = Outcome()
            response = await openai_client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": prompt_text(stream, chunks)}],
                stream=True,
                stream_options={"include_usage": True},
            )
            async with response:
                async for chunk in response:
                    if chunk.choices:
                        choice = chunk.choices[0]
                        if choice.delta.content:
                            outcome.parts.append(choice.delta.content)
                        outcome.finish_reason = choice.finish_reason or outcome.finish_reason
                    if chunk.usage is not None:
                        outcome.input_tokens = chunk.usage.prompt_tokens
                        outcome.output_tokens = chunk.usage.completion_tokens
            return outcome

        async with openai_client:
            yield read_openai
    elif provider == "anthropic":
        import anthropic

        anthropic_client = anthropic.AsyncAnthropic(api_key="load", base_url=url)

        async def read_anthropic(stream: int) -> Outcome:
            outcome = Outcome()
            response = await anthropic_client.messages.create(
                model=model,
                max_tokens=1024,
                messages=[{"role": "user", "content": prompt_text(stream, chunks)}],
                stream=True,
            )
            async with response:
                async for event in response:
                    if event.type == "content_block_delta" and event.delta.type == "text_delta":
                        outcome.parts.append(event.delta.text)
                    elif event.type == "message_start":
                        outcome.input_tokens = event.message.usage.input_tokens
                    elif event.type == "message_delta":
                        outcome.finish_reason = event.delta.stop_reason
                        outcome.output_tokens = event.usage.output_tokens
            return outcome

        async with anthropic_client:
            yield read_anthropic
    else:
        from google import genai
        from google.genai import types

        gemini_client = genai.Client(
            api_key="load", vertexai=False, http_options=types.HttpOptions(base_url=url)
        )

        async def read_gemini(stream: int) -> Outcome:
            outcome = Outcome()
            responses = await gemini_client.aio.models.generate_content_stream(
                model=model, contents=prompt_text(stream, chunks)
            )
            async for response in responses:
                candidate = (response.candidates or [types.Candidate()])[0]
                parts = candidate.content.parts if candidate.content else None
                outcome.parts.extend(part.text for part in parts or () if part.text)
                if candidate.finish_reason is not None:
                    outcome.finish_reason = candidate.finish_reason.value
                if response.usage_metadata is not None:
                    outcome.input_tokens = response.usage_metadata.prompt_token_count
                    outcome.output_tokens = response.usage_metadata.candidates_token_count
            return outcome

        try:
            yield read_gemini
        finally:
            await gemini_client.aio.aclose()


@asynccontextmanager
async def _mirastream(provider: str, url: str, chunks: int) -> AsyncIterator[Read]:
    prompt = prompt_class(provider, url)

    async def read(stream: int) -> Outcome:
        outcome = Outcome()
        async with prompt(text=prompt_text(stream, chunks)).stream_async() as response_stream:
            async for chunk in response_stream:
                if chunk.content:
                    outcome.parts.append(chunk.content)
        response = response_stream.response
        outcome.finish_reason = response.finish_reason
        if response.usage is not None:
            outcome.input_tokens = response.usage.input_tokens
            outcome.output_tokens = response.usage.output_tokens
        return outcome

    # The default clients are mirastream's own, per event loop: asyncio.run closes them.
    yield read


_OPENERS = {"floor": _floor, "sdk": _sdk, "mirastream": _mirastream}


async def _run(
    reader: str, provider: str, url: str, streams: int, chunks: int, timeout: float
) -> tuple[float, float, list[str]]:
    """Read `streams` streams at once; return the wall and CPU time and the problems found."""
    finish_reason = "stop" if reader == "mirastream" else RAW_FINISH[provider]
    async with _OPENERS[reader](provider, url, chunks) as read:

        async def one(stream: int) -> str | None:
            try:
                outcome = await read(stream)
            except Exception as error:
                return f"stream {stream}: {type(error).__name__}: {error}"
            return outcome.problem(stream, chunks, finish_reason)

        started, cpu_started = perf_counter(), process_time()
        try:
            found = await asyncio.wait_for(asyncio.gather(*(one(n) for n in range(streams))), timeout)
        except asyncio.TimeoutError:
            found = [f"not finished after {timeout} s"] * streams
        wall, cpu = perf_counter() - started, process_time() - cpu_started
    return wall, cpu, [problem for problem in found if problem is not None]


def measure(reader: str, provider: str, url: str, streams: int, chunks: int, timeout: float) -> PhaseResult:
    """Warm up, then time `streams` concurrent streams read by `reader`, in this process."""
    asyncio.run(_run(reader, provider, url, min(WARM_UP_STREAMS, streams), chunks, timeout))
    gc.collect()
    reset_peak_rss()
    rss_before = memory_kib("VmRSS")
    wall, cpu, problems = asyncio.run(_run(reader, provider, url, streams, chunks, timeout))
    peak = memory_kib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return PhaseResult(
        reader, provider, streams, chunks, wall, cpu, problems[:5], len(problems), rss_before, peak
    )


def raise_open_file_limit(streams: int) -> None:
    """Allow a socket per stream, plus room for everything else."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = streams + 512
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(
            resource.RLIMIT_NOFILE, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard)
        )


def _in_child(reader: str, provider: str, url: str, streams: int, chunks: int, timeout: float) -> PhaseResult:
    """Run `measure` in a fresh Python process, so that each reader starts from the same state."""
    command = [sys.executable, "-m", "bench.load", "--phase", reader, "--url", url]
    command += ["--streams", str(streams), "--chunks", str(chunks), "--provider", provider]
    command += ["--timeout", str(timeout)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=2 * timeout + 120)
    if done.returncode != 0:
        raise RuntimeError(f"{reader} run failed:\n{done.stderr[-3000:]}")
    return PhaseResult(**json.loads(done.stdout.splitlines()[-1]))


def run_rounds(
    url: str,
    provider: str,
    *,
    streams: int,
    chunks: int,
    runs: int,
    readers: Sequence[str] = READERS,
    timeout: float = 300.0,
) -> list[PhaseResult]:
    """`runs` rounds of every reader, each run in a fresh process; logs each run on stderr."""
    results: list[PhaseResult] = []
    for run in range(1, runs + 1):
        for reader in readers:
            before = fetch_stats(url, reset=True)
            result = _in_child(reader, provider, url, streams, chunks, timeout)
            stats = fetch_stats(url)
            result.server_peak_streams = stats.peak_streams
            result.server_peak_connections = stats.peak_connections
            result.server_cpu_seconds = stats.cpu_seconds - before.cpu_seconds
            results.append(result)
            print(
                f"  load {provider} run {run} {reader:>10}: {result.wall:6.2f} s (CPU {result.cpu:.2f} s), "
                f"{result.failures} failures, "
                f"peak RSS {result.peak_rss_kib / 1024:.0f} MiB, server peak streams "
                f"{stats.peak_streams}, connections {stats.peak_connections}, server CPU "
                f"{result.server_cpu_seconds:.1f} s (warm-up included)",
                file=sys.stderr,
            )
            for problem in result.problems:
                print(f"    {problem}", file=sys.stderr)
    return results


def _span(values: list[float], unit: str = "") -> str:
    """`median (min-max)` of `values`."""
    return f"{statistics.median(values):.2f}{unit} ({min(values):.2f}-{max(values):.2f})"


def _table(results: list[PhaseResult], readers: list[str]) -> str:
    rows = [
        "| reader | wall s | CPU s | streams/s | chunks/s | peak RSS MiB | RSS growth KiB/stream "
        "| server peak concurrent streams | failures |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for reader in readers:
        mine = [result for result in results if result.reader == reader]
        wall = statistics.median(result.wall for result in mine)
        streams, chunks = mine[0].streams, mine[0].chunks
        peak = statistics.median(result.peak_rss_kib for result in mine)
        growth = statistics.median((r.peak_rss_kib - r.rss_before_kib) / r.streams for r in mine)
        rows.append(
            f"| {reader} | {_span([r.wall for r in mine])} | {_span([r.cpu for r in mine])} "
            f"| {streams / wall:,.0f} | {streams * chunks / wall:,.0f} | {peak / 1024:.0f} | {growth:.1f} "
            f"| {min(r.server_peak_streams for r in mine)} | {sum(r.failures for r in mine)} |"
        )
    return "\n".join(rows)


def _ratios(results: list[PhaseResult], readers: list[str]) -> str:
    """mirastream's wall and CPU time over the floor's and the SDK's: median of runs (min-max).

    Each ratio pairs readers of the same run, which follow each other within seconds.
    """
    lines = []
    for other in ("floor", "sdk"):
        if "mirastream" not in readers or other not in readers:
            continue
        mine = [r for r in results if r.reader == "mirastream"]
        theirs = [r for r in results if r.reader == other]
        wall = [a.wall / b.wall for a, b in zip(mine, theirs, strict=True)]
        cpu = [a.cpu / b.cpu for a, b in zip(mine, theirs, strict=True)]
        lines.append(f"mirastream / {other}: wall time {_span(wall, 'x')}, CPU time {_span(cpu, 'x')}")
    return "\n".join(lines)


def main() -> int:
    """Run the benchmark (or, with `--phase`, one measurement for the parent); return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=1000, help="concurrent streams (default 1000)")
    parser.add_argument("--chunks", type=int, default=50, help="text chunks per stream (default 50)")
    parser.add_argument("--provider", choices=PROVIDERS, default="openai")
    parser.add_argument("--runs", type=int, default=3, help="runs of each reader (default 3)")
    parser.add_argument(
        "--readers", default=",".join(READERS), help="comma-separated subset of " + "/".join(READERS)
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds allowed for one run")
    parser.add_argument("--interval", type=float, default=0.0, help="server pause between events, in s")
    parser.add_argument("--phase", choices=READERS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    readers = args.readers.split(",")
    if not set(readers) <= set(READERS):
        parser.error(f"--readers: choose from {', '.join(READERS)}")
    clear_proxies()
    raise_open_file_limit(args.streams)
    if args.phase is not None:
        result = measure(args.phase, args.provider, args.url, args.streams, args.chunks, args.timeout)
        print(json.dumps(asdict(result)))
        return 0

    lifetime = args.runs * len(readers) * (2 * args.timeout + 180)
    with ServerProcess(lifetime=lifetime, interval=args.interval) as url:
        results = run_rounds(
            url,
            args.provider,
            streams=args.streams,
            chunks=args.chunks,
            runs=args.runs,
            readers=readers,
            timeout=args.timeout,
        )

    versions = ", ".join(
        f"{name} {version(name)}" for name in ("mirastream", SDK_PACKAGES[args.provider], "httpx2")
    )
    print(
        f"\n{args.streams} concurrent streams x {args.chunks} chunks, provider {args.provider}, "
        f"{args.runs} runs; {os.cpu_count()} cores, Python {platform.python_version()}; {versions}\n"
    )
    print(_table(results, readers))
    print()
    print(_ratios(results, readers))
    return 1 if any(result.failures for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
