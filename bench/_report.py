"""The results as Markdown: one table per group, each target with its verdict (met / not met)."""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Sequence
from datetime import date
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from bench import first_chunk, throughput
from bench._common import median, span
from bench._readers import KINDS
from bench.imports import BASELINE, ImportResult
from bench.interpreter import SideResult
from bench.load import PhaseResult

__all__ = [
    "concurrency_table",
    "first_chunk_table",
    "imports_table",
    "interpreter_table",
    "machine_line",
    "throughput_tables",
    "write_readme",
]

START, END = "<!-- results -->", "<!-- /results -->"
NAMES = {
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "gemini": "Gemini",
    "openai_responses": "OpenAI Responses",
}
KIND_NAMES = {
    "floor": "floor (httpx2 + SSE split + `json.loads`)",
    "sdk": "raw SDK stream",
    "content": "mirastream, `.content` only",
    "chunk": "mirastream, touching `.chunk`",
}
PACKAGES = (
    "mirastream",
    "openai",
    "anthropic",
    "google-genai",
    "httpx2",
    "pydantic",
    "jupyter_client",
    "ipykernel",
)


def _verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("**met**" if ok else "**not met**")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def machine_line(preset: str, load_before: float, load_after: float) -> str:
    """Where and with what the numbers were measured."""
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            continue
    return (
        f"{date.today().isoformat()}, preset `{preset}`: {os.cpu_count()} cores, "
        f"Python {platform.python_version()} on {platform.system()}; {', '.join(versions)}. "
        f"Load average (1 min) {load_before:.2f} at the start, {load_after:.2f} at the end."
    )


# Throughput ------------------------------------------------------------------------------

_RATIOS = (
    # (label, mine, other, target per provider: the largest ratio that meets it)
    # (OpenAI Responses: the Chat Completions backend's targets, issue 17)
    (
        "`.content` / floor",
        "content",
        "floor",
        {"openai": 1.3, "anthropic": 1.3, "gemini": 1.3, "openai_responses": 1.3},
    ),
    ("`.content` / raw SDK", "content", "sdk", {"openai": 0.2, "anthropic": 0.5, "openai_responses": 0.2}),
    (
        "`.chunk` / raw SDK",
        "chunk",
        "sdk",
        {"openai": 1.05, "anthropic": 1.05, "gemini": 1.05, "openai_responses": 1.05},
    ),
)


def _columns(sizes: Sequence[int]) -> list[tuple[str, int]]:
    return [(mode, chunks) for mode in throughput.MODES for chunks in sizes]


def throughput_tables(
    samples: Sequence[throughput.Sample], providers: Sequence[str], sizes: Sequence[int]
) -> str:
    """µs per chunk of every reader, then the ratios with their targets."""
    columns = _columns(sizes)
    header = ["provider", "reader", *(f"{mode} {chunks:,}" for mode, chunks in columns)]
    rows = []
    for provider in providers:
        for kind in KINDS:
            cells = [span(throughput.per_chunk(samples, provider, kind, m, c), 1) for m, c in columns]
            rows.append([NAMES[provider], KIND_NAMES[kind], *cells])
    per_chunk = _table(header, rows)

    header = ["provider", "ratio (wall time)", *(f"{mode} {chunks:,}" for mode, chunks in columns)]
    header += ["target", "met"]
    rows = []
    for provider in providers:
        for label, mine, other, targets in _RATIOS:
            values = [throughput.ratios(samples, provider, m, c, mine, other) for m, c in columns]
            limit = targets.get(provider)
            ok = None if limit is None else all(median(v) <= limit for v in values)
            target = "—" if limit is None else f"≤ {limit:.2f}x"
            rows.append([NAMES[provider], label, *(span(v, 2, "x") for v in values), target, _verdict(ok)])
    ratio_table = _table(header, rows)

    header = ["provider", "ratio (CPU time of the reading process)", *(f"{m} {c:,}" for m, c in columns)]
    rows = []
    for provider in providers:
        for label, mine, other, _ in _RATIOS:
            values = [throughput.ratios(samples, provider, m, c, mine, other, cpu=True) for m, c in columns]
            rows.append([NAMES[provider], label, *(f"{median(v):.2f}x" for v in values)])
    return "\n\n".join([per_chunk, ratio_table, _table(header, rows)])


# Imports -------------------------------------------------------------------------------

_IMPORT_TARGETS = {
    "mirastream": (0.150, "< 150 ms, no SDK loaded"),
    "mirastream.openai": (None, "no SDK until the first call"),
    "mirastream.anthropic": (None, "no SDK until the first call"),
    "mirastream.gemini": (None, "no SDK until the first call"),
    "mirastream.tools": (None, "no SDK loaded"),
}


def imports_table(results: Sequence[ImportResult]) -> str:
    """Whole-process import times, what each import loaded, and the targets."""
    bare = median(next(r.seconds for r in results if r.module == BASELINE))
    rows = []
    for result in results:
        ms = [seconds * 1e3 for seconds in result.seconds]
        over = "—" if result.module == BASELINE else f"{median(result.seconds) * 1e3 - bare * 1e3:,.0f}"
        loaded = "—" if result.module == BASELINE else (", ".join(result.loaded) or "none")
        limit, target = _IMPORT_TARGETS.get(result.module, (None, "—"))
        ok: bool | None = None
        if result.module.startswith("mirastream"):
            ok = not result.loaded and (limit is None or median(result.seconds) < limit)
        name = result.module if result.module == BASELINE else f"`import {result.module}`"
        rows.append([name, span(ms, 0), over, loaded, target, _verdict(ok)])
    header = ["import", "whole process, ms", "over bare python, ms", "SDK modules loaded", "target", "met"]
    return _table(header, rows)


# Time to first chunk ---------------------------------------------------------------------


def first_chunk_table(found: Sequence[first_chunk.FirstChunk], providers: Sequence[str]) -> str:
    """Each reader's time to first text and mirastream's overhead over the raw SDK."""
    rows = []
    for provider in providers:
        for mode in first_chunk.MODES:
            times = [
                span(first_chunk.times_ms(found, provider, kind, mode), 2) for kind in first_chunk.READERS
            ]
            extra = first_chunk.overhead_ms(found, provider, mode)
            ok = median(extra) <= 1.0
            rows.append([NAMES[provider], mode, *times, span(extra, 2), "≤ 1 ms", _verdict(ok)])
    header = ["provider", "mode", "floor, ms", "raw SDK, ms", "mirastream, ms"]
    header += ["mirastream - raw SDK, ms", "target", "met"]
    return _table(header, rows)


# Concurrent streams --------------------------------------------------------------------


def concurrency_table(results: Sequence[PhaseResult], providers: Sequence[str]) -> str:
    """Wall and CPU time, memory, and the wall-time ratio to the floor, per reader."""
    rows = []
    for provider in providers:
        mine = [r for r in results if r.provider == provider]
        floors = {n: r for n, r in enumerate(r for r in mine if r.reader == "floor")}
        for reader, name in (
            ("floor", "floor (httpx2)"),
            ("sdk", "raw async SDK"),
            ("mirastream", "mirastream"),
        ):
            runs = [r for r in mine if r.reader == reader]
            if not runs:
                continue
            ratio = [r.wall / floors[n].wall for n, r in enumerate(runs) if n in floors]
            cpu_ratio = [r.cpu / floors[n].cpu for n, r in enumerate(runs) if n in floors]
            growth = [(r.peak_rss_kib - r.rss_before_kib) / r.streams for r in runs]
            target, ok = ("≤ 1.30x", median(ratio) <= 1.3) if reader == "mirastream" else ("—", None)
            rows.append(
                [
                    NAMES[provider],
                    name,
                    span([r.wall for r in runs]),
                    span([r.cpu for r in runs]),
                    f"{median([r.peak_rss_kib for r in runs]) / 1024:.0f}",
                    f"{median(growth):.1f}",
                    str(sum(r.failures for r in runs)),
                    span(ratio, 2, "x"),
                    span(cpu_ratio, 2, "x"),
                    target,
                    _verdict(ok),
                ]
            )
    header = ["provider", "reader", "wall, s", "CPU, s", "peak RSS, MiB", "RSS per stream, KiB"]
    header += ["failures", "wall / floor", "CPU / floor", "target (wall)", "met"]
    return _table(header, rows)


# Code interpreter ----------------------------------------------------------------------


FLAT_FLOOR_KIB = 8 * 1024


def _flat(result: SideResult) -> bool:
    """The host's memory did not grow with the output: its peak RSS rose by at most a quarter of it.

    (Or by 8 MiB, for small outputs: the allocator's own steps are a few MiB.) A consumer
    that keeps the output, or messages as big as the output, grows by the output's size.
    """
    growth = result.host_peak_kib - result.host_rss_before_kib
    return growth <= max(FLAT_FLOOR_KIB, result.output_bytes / 1024 / 4)


def _sandbox_ratio(sandboxed: Sequence[float], unsandboxed: Sequence[float]) -> float:
    """The median of the ratios of measurements taken in turns."""
    return median([mine / other for mine, other in zip(sandboxed, unsandboxed, strict=False)])


def interpreter_table(results: Sequence[SideResult]) -> str:
    """The code interpreter's session against a bare Jupyter kernel."""
    ours = next(r for r in results if r.side == "mirastream")
    bare = next(r for r in results if r.side == "bare")
    mib = ours.output_bytes / (1 << 20)

    def ms(values: Sequence[float]) -> str:
        return span([v * 1e3 for v in values], 1)

    warm_ratio = median(ours.warm) / median(bare.warm)
    latency_max = max(ours.print_latency) * 1e3
    rows = [
        [
            "cold start, s",
            span(ours.cold),
            span(bare.cold),
            f"{median(ours.cold) / median(bare.cold):.2f}x",
            "—",
            "—",
        ],
        [
            "tool loop: model's call written → execution starts, ms",
            ms(ours.execution_start),
            "—",
            "—",
            "≤ 50 ms",
            _verdict(median(ours.execution_start) <= 0.050),
        ],
        [
            "warm `1+1` round trip, ms",
            ms(ours.warm),
            ms(bare.warm),
            f"{warm_ratio:.2f}x",
            "≤ 1.20x bare",
            _verdict(warm_ratio <= 1.2),
        ],
        [
            "sandbox: warm `1+1` round trip, ms; ratio: sandboxed to unsandboxed session, in turns",
            ms(ours.sandboxed_warm) if ours.sandboxed_warm else "—",
            ms(ours.unsandboxed_warm) if ours.unsandboxed_warm else "—",
            f"{_sandbox_ratio(ours.sandboxed_warm, ours.unsandboxed_warm):.2f}x"
            if ours.sandboxed_warm
            else "—",
            "≤ 1.20x",
            _verdict(_sandbox_ratio(ours.sandboxed_warm, ours.unsandboxed_warm) <= 1.2)
            if ours.sandboxed_warm
            else "—",
        ],
        [
            "sandbox: cold start, s; ratio: sandboxed to unsandboxed (the prewarm hides it: see above)",
            span(ours.sandboxed_cold) if ours.sandboxed_cold else "—",
            span(ours.unsandboxed_cold) if ours.unsandboxed_cold else "—",
            f"{_sandbox_ratio(ours.sandboxed_cold, ours.unsandboxed_cold):.2f}x"
            if ours.sandboxed_cold
            else "—",
            "reported",
            "—",
        ],
        [
            "warm `1+1` round trip on a Jupyter Kernel Gateway (127.0.0.1), ms; ratio: to the local session",
            ms(ours.gateway_warm) if ours.gateway_warm else "not installed",
            "—",
            f"{median(ours.gateway_warm) / median(ours.warm):.2f}x" if ours.gateway_warm else "—",
            "reported",
            "—",
        ],
        [
            f"`print` → event latency, ms (max {latency_max:.0f})",
            ms(ours.print_latency),
            ms(bare.print_latency),
            "—",
            "≤ 20 ms",
            _verdict(median(ours.print_latency) <= 0.020),
        ],
        [
            f"{mib:.0f} MiB of output: time, s (MiB/s)",
            f"{ours.output_seconds:.2f} ({mib / ours.output_seconds:.0f})",
            f"{bare.output_seconds:.2f} ({mib / bare.output_seconds:.0f})",
            f"{ours.output_seconds / bare.output_seconds:.2f}x",
            "—",
            "—",
        ],
        [
            f"{mib:.0f} MiB of output: host RSS growth, MiB (flat?)",
            _growth(ours),
            _growth(bare),
            "—",
            "flat",
            _verdict(_flat(ours)),
        ],
        [
            "kernel peak RSS, MiB",
            f"{ours.kernel_peak_kib / 1024:.0f}",
            f"{bare.kernel_peak_kib / 1024:.0f}",
            "—",
            "—",
            "—",
        ],
    ]
    return _table(["measure", "mirastream", "bare Jupyter kernel", "ratio", "target", "met"], rows)


def _growth(result: SideResult) -> str:
    growth = (result.host_peak_kib - result.host_rss_before_kib) / 1024
    return f"{growth:.1f} ({'flat' if _flat(result) else 'grows'})"


# README --------------------------------------------------------------------------------


def write_readme(path: Path, results: str) -> None:
    """Put `results` between the results markers of `path` (which must have them)."""
    text = path.read_text()
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"{path} has no {START} ... {END} markers")
    path.write_text(pattern.sub(lambda _: f"{START}\n{results.strip()}\n{END}", text, count=1))
