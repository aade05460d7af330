"""Where the time goes: profiles of the streaming hot path and of ``import mirastream``.

    python -m bench.profiles                              # OpenAI and Anthropic, sync and async
    python -m bench.profiles --providers gemini --kinds content,sdk --chunks 5000
    python -m bench.profiles --imports                    # python -X importtime, summarised

For each provider and mode, in this process against the benchmark server, the readers
asked for (default: the floor and mirastream reading `.content`) are first timed side by
side, unprofiled (median of 5 rounds, the readers in a rotating order; µs per chunk of
this process's CPU time, and wall time); then each reads once under `cProfile`. Printed:
each package's share of the profiled time (the own time of its functions; the time of C
built-ins and of generic standard-library helpers such as `contextlib` goes to the
package that called them), scaled to the unprofiled CPU µs per chunk, and the functions
with the most own time. `cProfile` adds a fixed cost to every Python call, so code made
of many small calls looks more expensive than it is; when `pyinstrument` is importable, a
second read is sampled with it (no cost per call) and its shares are shown beside
cProfile's. Read the shares as a guide and check a change with
``python -m bench --only throughput``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import re
import statistics
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from time import perf_counter, process_time
from typing import Any

from bench._common import ROOT, clear_proxies
from bench._readers import ASYNC_READERS, KINDS, SYNC_READERS
from bench._sse_server import ServerProcess

# (path fragment, package) in the order they are tried; the first match names the package.
_PACKAGES = (
    ("/bench/", "bench (the consumer's loop)"),
    ("/mirastream/", "mirastream"),
    ("/openai/", "openai SDK"),
    ("/anthropic/", "anthropic SDK"),
    ("/google/genai/", "google-genai SDK"),
    ("/pydantic_core/", "pydantic"),
    ("/pydantic/", "pydantic"),
    ("/typing_extensions", "pydantic"),
    ("/httpx2/", "httpx2"),
    ("/httpcore2/", "httpcore2"),
    ("/h11/", "h11"),
    ("/anyio/", "anyio"),
    ("/tenacity/", "tenacity"),
    ("/asyncio/", "asyncio"),
    ("/json/", "json"),
)
_BUILTIN_PACKAGES = (
    ("_json", "json"),
    ("json", "json"),
    ("recv", "sockets (syscalls)"),
    ("send", "sockets (syscalls)"),
    ("select", "sockets (syscalls)"),
    ("poll", "sockets (syscalls)"),
    ("pydantic_core", "pydantic"),
)

Key = tuple[str, int, str]
ROUNDS = 5


def package_of(filename: str, name: str) -> str:
    """The package a profiled function belongs to, from its file (or a built-in's name)."""
    if filename == "~":
        for fragment, package in _BUILTIN_PACKAGES:
            if fragment in name:
                return package
        return "C built-ins (str, list, dict, ...)"
    for fragment, package in _PACKAGES:
        if fragment in filename:
            return package
    return "stdlib (other)"


def _read_once(
    provider: str, mode: str, kind: str, url: str, loop: asyncio.AbstractEventLoop
) -> Callable[[int], Any]:
    if mode == "sync":
        return SYNC_READERS[kind](provider, url)
    reader = ASYNC_READERS[kind](provider, url)
    return lambda chunks: loop.run_until_complete(reader(chunks))


def profile_streams(provider: str, mode: str, kinds: list[str], url: str, chunks: int, top: int) -> str:
    """The reports of some readers of one provider and mode, timed side by side."""
    loop = asyncio.new_event_loop()
    try:
        reads = {kind: _read_once(provider, mode, kind, url, loop) for kind in kinds}
        for read in reads.values():
            read(200)  # warm up: imports, connection
        gc.collect()
        gc.freeze()
        cpu: dict[str, list[float]] = defaultdict(list)
        wall: dict[str, list[float]] = defaultdict(list)
        for number in range(ROUNDS):
            for index in range(len(kinds)):
                kind = kinds[(index + number) % len(kinds)]
                started, cpu_started = perf_counter(), process_time()
                reads[kind](chunks)
                wall[kind].append((perf_counter() - started) / chunks * 1e6)
                cpu[kind].append((process_time() - cpu_started) / chunks * 1e6)
        reports = []
        for kind in kinds:
            profiler = cProfile.Profile()
            profiler.enable()
            reads[kind](chunks)
            profiler.disable()
            sampled = _sampled_shares(reads[kind], chunks)
            timing = (statistics.median(cpu[kind]), statistics.median(wall[kind]))
            reports.append(_report(provider, mode, kind, chunks, timing, profiler, sampled, top))
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    return "\n\n".join(reports)


def _report(
    provider: str,
    mode: str,
    kind: str,
    chunks: int,
    timing: tuple[float, float],
    profiler: cProfile.Profile,
    sampled: dict[str, float],
    top: int,
) -> str:
    per_chunk, wall = timing
    stats = pstats.Stats(profiler)
    table: dict[Key, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in table.values())
    shares: dict[str, float] = defaultdict(float)
    for key, entry in table.items():
        _attribute(table, key, entry[2], shares, depth=0)
    lines = [
        f"## {provider} {mode}, {kind}: {per_chunk:.1f} µs per chunk of CPU time unprofiled, "
        f"{wall:.1f} µs wall ({chunks:,} chunks; {total / chunks * 1e6:.1f} µs under cProfile)",
        "",
        "| package | cProfile: share of own time | ≈ µs per chunk | sampled: share | ≈ µs per chunk |",
        "| --- | --- | --- | --- | --- |",
    ]
    sampled_total = sum(sampled.values()) or 1.0
    for package in sorted(set(shares) | set(sampled), key=lambda name: -shares.get(name, 0.0)):
        share = shares.get(package, 0.0) / total
        if share < 0.0005 and sampled.get(package, 0.0) < 0.0005 * sum(sampled.values()):
            continue
        cells = f"| {package} | {share:.1%} | {share * per_chunk:.1f} |"
        if sampled:
            sampled_share = sampled.get(package, 0.0) / sampled_total
            cells += f" {sampled_share:.1%} | {sampled_share * per_chunk:.1f} |"
        else:
            cells += " — | — |"
        lines.append(cells)
    ranked = sorted(table.items(), key=lambda item: -item[1][2])
    lines += ["", *_functions(ranked[:top], chunks)]
    ours = [item for item in ranked if package_of(item[0][0], item[0][2]) == "mirastream"]
    if ours:
        lines += ["", "mirastream's own functions:", "", *_functions(ours[:top], chunks)]
    return "\n".join(lines)


def _functions(ranked: list[tuple[Key, Any]], chunks: int) -> list[str]:
    lines = ["| function | calls per chunk | own µs per chunk (profiled) | cumulative µs per chunk |"]
    lines.append("| --- | --- | --- | --- |")
    for (filename, line, name), entry in ranked:
        where = name if filename == "~" else f"{_short(filename)}:{line} {name}"
        own, cumulative = entry[2] / chunks * 1e6, entry[3] / chunks * 1e6
        lines.append(f"| `{where}` | {entry[1] / chunks:.2f} | {own:.2f} | {cumulative:.2f} |")
    return lines


def _sampled_shares(read: Callable[[int], Any], chunks: int) -> dict[str, float]:
    """Own time per package from one read under pyinstrument (sampling), if it is installed.

    A sampler adds no cost per call, so its shares are closer to the truth than cProfile's;
    C functions count for the Python function that called them.
    """
    try:
        from pyinstrument import Profiler  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return {}
    profiler = Profiler(interval=0.0001, async_mode="disabled")
    profiler.start()
    read(chunks)
    session = profiler.stop()
    shares: dict[str, float] = defaultdict(float)
    stack: list[tuple[Any, str]] = [(session.root_frame(), "stdlib (other)")]
    while stack:
        frame, parent = stack.pop()
        path = frame.file_path or "<"
        package = package_of(path, frame.function)
        if path.startswith("<") or frame.function == "[self]" or package in _GENERIC:
            package = parent  # built-ins, generated code, stdlib helpers: the caller's cost
        shares[package] += frame.time - sum(child.time for child in frame.children)
        stack.extend((child, package) for child in frame.children)
    return dict(shares)


_GENERIC = ("C built-ins (str, list, dict, ...)", "stdlib (other)")


def _attribute(table: dict[Key, Any], key: Key, seconds: float, shares: dict[str, float], depth: int) -> None:
    """Add `seconds` of `key`'s own time to its package; generic helpers' time to their callers'."""
    package = package_of(key[0], key[2])
    entry = table.get(key)
    callers = entry[4] if entry is not None else {}
    if package not in _GENERIC or depth >= 4 or not callers:
        shares[package] += seconds
        return
    # cProfile keeps the own time per caller: split it the same way, up the call chain.
    split = sum(stats[2] for stats in callers.values())
    for caller, stats in callers.items():
        part = seconds * (stats[2] / split) if split else seconds / len(callers)
        _attribute(table, caller, part, shares, depth + 1)


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/lib/python3", str(ROOT) + "/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def profile_imports(module: str, top: int) -> str:
    """``-X importtime`` of one import: the biggest own and cumulative costs, by package too."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for match in _IMPORT_LINE.finditer(done.stderr):
        rows.append((int(match[1]), int(match[2]), len(match[3]) // 2, match[4]))
    total = sum(own for own, _, _, _ in rows)
    by_package: dict[str, int] = defaultdict(int)
    for own, _, _, name in rows:
        by_package[name.split(".")[0]] += own
    lines = [f"## import {module}: {total / 1000:.0f} ms of imports (own times summed)", ""]
    lines += ["| top-level package | own time, ms | share |", "| --- | --- | --- |"]
    for package, own in sorted(by_package.items(), key=lambda item: -item[1])[:top]:
        lines.append(f"| {package} | {own / 1000:.1f} | {own / total:.1%} |")
    lines += ["", "| module | own, ms | cumulative, ms | depth |", "| --- | --- | --- | --- |"]
    for own, cumulative, depth, name in sorted(rows, key=lambda row: -row[1])[:top]:
        lines.append(f"| {name} | {own / 1000:.1f} | {cumulative / 1000:.1f} | {depth} |")
    return "\n".join(lines)


def main() -> int:
    """Print the profiles as Markdown."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--providers", default="openai,anthropic")
    parser.add_argument("--modes", default="sync,async")
    parser.add_argument("--kinds", default="floor,content", help="readers: " + ", ".join(KINDS))
    parser.add_argument("--chunks", type=int, default=20000)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--imports", action="store_true", help="profile imports instead")
    parser.add_argument(
        "--modules", default="mirastream,mirastream.openai,mirastream.anthropic,mirastream.gemini"
    )
    args = parser.parse_args()
    if args.imports:
        for module in args.modules.split(","):
            print(profile_imports(module, args.top) + "\n")
        return 0
    clear_proxies()
    with ServerProcess(lifetime=3600) as url:
        for provider in args.providers.split(","):
            for mode in args.modes.split(","):
                report = profile_streams(provider, mode, args.kinds.split(","), url, args.chunks, args.top)
                print(report + "\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
