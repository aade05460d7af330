"""Run every benchmark and print one Markdown report: ``python -m bench``.

    python -m bench                       # the full run (about 20 minutes on 2 cores)
    python -m bench --quick               # a short run with smaller sizes (under 2 minutes)
    python -m bench --only throughput,imports
    python -m bench --write               # also put the report into bench/README.md
    python -m bench --json results.json   # also save every measurement
    python -m bench --from-json results.json --write   # the report of a saved run

Groups: ``throughput`` (µs per chunk), ``imports``, ``first_chunk``, ``concurrency`` (1,000
concurrent async streams), ``interpreter`` (the code interpreter against a bare kernel).
One loopback server (`bench/_sse_server.py`, its own process) serves every group; each
measurement runs in fresh Python processes. Progress goes to stderr, the report to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import _report, first_chunk, imports, interpreter, load, throughput
from bench._common import PROVIDERS, STREAM_PROVIDERS, clear_proxies
from bench._sse_server import ServerProcess

README = Path(__file__).resolve().parent / "README.md"


@dataclass(frozen=True)
class Preset:
    """The sizes of one run."""

    name: str
    sizes: tuple[int, ...]
    rounds: int
    import_reps: int
    first_chunk_reps: int
    load_streams: int
    load_chunks: int
    load_runs: int
    load_providers: tuple[str, ...]
    cold: int
    warm: int
    prints: int
    output_mb: int
    tool_reps: int


FULL = Preset(
    "full",
    sizes=(1000, 20000),
    rounds=5,
    import_reps=10,
    first_chunk_reps=50,
    load_streams=1000,
    load_chunks=20,
    load_runs=5,  # the connection pool makes single runs vary widely: 5 give a steady median
    load_providers=PROVIDERS,
    cold=3,
    warm=30,
    prints=20,
    output_mb=50,
    tool_reps=3,
)
QUICK = Preset(
    "quick",
    sizes=(1000, 2000),
    rounds=2,
    import_reps=2,
    first_chunk_reps=10,
    load_streams=300,
    load_chunks=10,
    load_runs=1,
    load_providers=("openai",),
    cold=1,
    warm=10,
    prints=10,
    output_mb=5,
    tool_reps=1,
)


def _section(title: str, note: str, table: str) -> str:
    return f"### {title}\n\n{note}\n\n{table}\n"


Rows = list[dict[str, Any]]


# Each group: measure (rows of plain data, saved with --json) and render (a report section).


def _measure_throughput(preset: Preset, url: str) -> Rows:
    return [asdict(s) for s in throughput.run(url, STREAM_PROVIDERS, preset.sizes, preset.rounds)]


def _render_throughput(preset: Preset, rows: Rows) -> str:
    samples = [throughput.Sample(**row) for row in rows]
    note = (
        f"µs per content chunk, wall clock, median (min-max) of {preset.rounds} rounds; each read "
        "is one request, from before it is sent to its last chunk. Ratios pair the reads of one round."
    )
    providers = [p for p in STREAM_PROVIDERS if any(s.provider == p for s in samples)]  # older runs lack some
    table = _report.throughput_tables(samples, providers, preset.sizes)
    return _section("Streaming: µs per chunk", note, table)


def _measure_imports(preset: Preset, url: str) -> Rows:
    return [asdict(r) for r in imports.measure(preset.import_reps)]


def _render_imports(preset: Preset, rows: Rows) -> str:
    results = [imports.ImportResult(**row) for row in rows]
    note = f'`python -c "import ..."`, whole process, median (min-max) of {preset.import_reps} runs.'
    return _section("Import time", note, _report.imports_table(results))


def _measure_first_chunk(preset: Preset, url: str) -> Rows:
    return [asdict(f) for f in first_chunk.run(url, PROVIDERS, preset.first_chunk_reps)]


def _render_first_chunk(preset: Preset, rows: Rows) -> str:
    found = [first_chunk.FirstChunk(**row) for row in rows]
    note = (
        "Request start to the first text in the consumer's hands, warm clients, median (min-max) of "
        f"{preset.first_chunk_reps} requests; the difference is taken within each round."
    )
    return _section("Time to first chunk", note, _report.first_chunk_table(found, PROVIDERS))


def _measure_concurrency(preset: Preset, url: str) -> Rows:
    phases = []
    load.raise_open_file_limit(preset.load_streams)
    for provider in preset.load_providers:
        phases += load.run_rounds(
            url, provider, streams=preset.load_streams, chunks=preset.load_chunks, runs=preset.load_runs
        )
    return [asdict(p) for p in phases]


def _render_concurrency(preset: Preset, rows: Rows) -> str:
    phases = [load.PhaseResult(**row) for row in rows]
    note = (
        f"{preset.load_streams:,} concurrent `stream_async()` streams x {preset.load_chunks} chunks, "
        f"every response checked; median (min-max) of {preset.load_runs} runs, each reader in a fresh "
        "process. The ratios pair the readers of one run."
    )
    table = _report.concurrency_table(phases, preset.load_providers)
    return _section("Concurrent async streams", note, table)


def _measure_interpreter(preset: Preset, url: str) -> Rows:
    sides = interpreter.run(
        url,
        cold=preset.cold,
        warm=preset.warm,
        prints=preset.prints,
        output_mb=preset.output_mb,
        tool_reps=preset.tool_reps,
    )
    return [asdict(s) for s in sides]


def _render_interpreter(preset: Preset, rows: Rows) -> str:
    sides = [interpreter.SideResult(**row) for row in rows]
    note = (
        f"Median (min-max): {preset.cold} cold starts, {preset.warm} round trips, {preset.prints} "
        f"prints, {preset.tool_reps} tool-loop runs (the model writes its call over 1 s)."
    )
    return _section("Code interpreter", note, _report.interpreter_table(sides))


GROUPS: dict[str, tuple[Callable[[Preset, str], Rows], Callable[[Preset, Rows], str]]] = {
    "throughput": (_measure_throughput, _render_throughput),
    "imports": (_measure_imports, _render_imports),
    "first_chunk": (_measure_first_chunk, _render_first_chunk),
    "concurrency": (_measure_concurrency, _render_concurrency),
    "interpreter": (_measure_interpreter, _render_interpreter),
}


def measure(groups: list[str], preset: Preset) -> dict[str, Any]:
    """Run `groups` against one server; the raw data of the run."""
    raw: dict[str, Any] = {"preset": asdict(preset)}
    load_before = os.getloadavg()[0]
    with ServerProcess(lifetime=4 * 3600) as url:
        for group in groups:
            print(f"{group} ...", file=sys.stderr)
            started = time.perf_counter()
            raw[group] = GROUPS[group][0](preset, url)
            print(f"{group} done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    raw["machine"] = _report.machine_line(preset.name, load_before, os.getloadavg()[0])
    return raw


def render(raw: dict[str, Any], groups: list[str]) -> str:
    """The Markdown report of a run's raw data (of those of `groups` it has)."""
    preset = Preset(**{**raw["preset"], "sizes": tuple(raw["preset"]["sizes"])})
    sections = [raw.get("machine", f"Preset `{preset.name}`.") + "\n"]
    sections += [
        render_group(preset, raw[group]) for group, (_, render_group) in GROUPS.items() if group in raw
    ]
    return "\n".join(sections)


def main() -> int:
    """Parse the options, run the groups (or read a saved run), print (and maybe write) the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes and fewer rounds (about 2 minutes)"
    )
    parser.add_argument(
        "--only", default=",".join(GROUPS), help="comma-separated groups: " + ", ".join(GROUPS)
    )
    parser.add_argument("--write", action="store_true", help="put the report into bench/README.md")
    parser.add_argument("--json", type=Path, help="save every measurement to this file")
    parser.add_argument("--from-json", type=Path, help="report on a run saved with --json; measure nothing")
    args = parser.parse_args()
    groups = args.only.split(",")
    unknown = set(groups) - set(GROUPS)
    if unknown:
        parser.error(
            f"--only: unknown group(s) {', '.join(sorted(unknown))}; choose from {', '.join(GROUPS)}"
        )
    if args.from_json is not None:
        raw = json.loads(args.from_json.read_text())
    else:
        clear_proxies()
        raw = measure(groups, QUICK if args.quick else FULL)
        if args.json is not None:
            args.json.write_text(json.dumps(raw, indent=1))
    report = render(raw, groups)
    print(report)
    if args.write:
        _report.write_readme(README, report)
        print(f"written to {README}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
