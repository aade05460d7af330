"""Streaming cost: µs per chunk of the floor, the raw SDK and mirastream, sync and async.

    python -m bench.throughput [--sizes 1000,20000] [--rounds 5] [--providers openai,openai_responses]

The providers are `openai` (Chat Completions), `anthropic`, `gemini` and `openai_responses`
(the Responses API); by default, all four.

Each provider runs in a fresh Python process that makes the eight readers of `_readers`
(four kinds, sync and async), warms each one up, then reads `reps` rounds; within a round,
every size, mode and reader once, the readers in a rotating order. Each read is one
request, timed from before the request to the last chunk (wall clock and this process's
CPU time), divided by the number of content chunks, and checked (its text and its number
of pieces). The ratios pair the reads of the same round and size, then take the median
over rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from time import perf_counter, process_time

from bench._common import STREAM_PROVIDERS, clear_proxies, median, run_child
from bench._readers import ASYNC_READERS, KINDS, SYNC_READERS
from bench._sse_server import ServerProcess
from bench._wire import bench_piece

MODES = ("sync", "async")
WARM_UP_CHUNKS = 200


@dataclass
class Sample:
    """One timed read."""

    provider: str
    kind: str
    mode: str
    chunks: int
    round: int
    wall: float
    cpu: float

    @property
    def wall_us(self) -> float:
        """Wall-clock µs per content chunk."""
        return self.wall / self.chunks * 1e6

    @property
    def cpu_us(self) -> float:
        """This process's CPU µs per content chunk."""
        return self.cpu / self.chunks * 1e6


def check(parts: list[str], chunks: int, label: str) -> None:
    """Raise if `parts` is not exactly the stream's pieces."""
    if len(parts) != chunks or parts[:50] != [bench_piece(index) for index in range(min(chunks, 50))]:
        raise AssertionError(f"{label}: read {len(parts)} pieces, expected {chunks}: {parts[:5]!r}")
    if "".join(parts) != "".join(bench_piece(index) for index in range(chunks)):
        raise AssertionError(f"{label}: the text differs from the stream's")


def measure(provider: str, url: str, sizes: Sequence[int], rounds: int, kinds: Sequence[str]) -> list[Sample]:
    """Time every reader of `provider` in this process (see the module docs)."""
    sync_readers = {kind: SYNC_READERS[kind](provider, url) for kind in kinds}
    async_readers = {kind: ASYNC_READERS[kind](provider, url) for kind in kinds}
    loop = asyncio.new_event_loop()
    samples: list[Sample] = []
    try:
        for kind in kinds:
            check(sync_readers[kind](WARM_UP_CHUNKS)[0], WARM_UP_CHUNKS, f"{kind} sync warm-up")
            check(loop.run_until_complete(async_readers[kind](WARM_UP_CHUNKS))[0], WARM_UP_CHUNKS, kind)
        gc.collect()
        gc.freeze()  # what the imports and warm-up made stays out of the timed collections
        for number in range(rounds):
            order = [kinds[(index + number) % len(kinds)] for index in range(len(kinds))]
            for chunks in sizes:
                for mode in MODES:
                    for kind in order:
                        gc.collect()
                        started, cpu_started = perf_counter(), process_time()
                        if mode == "sync":
                            parts, _ = sync_readers[kind](chunks)
                        else:
                            parts, _ = loop.run_until_complete(async_readers[kind](chunks))
                        wall, cpu = perf_counter() - started, process_time() - cpu_started
                        check(parts, chunks, f"{provider} {kind} {mode}")
                        samples.append(Sample(provider, kind, mode, chunks, number, wall, cpu))
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    return samples


def run(
    url: str, providers: Sequence[str], sizes: Sequence[int], rounds: int, kinds: Sequence[str] = KINDS
) -> list[Sample]:
    """Measure each provider in a fresh process; all samples."""
    samples: list[Sample] = []
    for provider in providers:
        arguments = ["--child", "--url", url, "--providers", provider, "--rounds", str(rounds)]
        arguments += ["--sizes", ",".join(map(str, sizes)), "--kinds", ",".join(kinds)]
        rows = run_child("bench.throughput", arguments, timeout=3600)
        samples.extend(Sample(**row) for row in rows)
        print(f"  throughput {provider}: {len(rows)} reads", file=sys.stderr)
    return samples


def per_chunk(samples: Sequence[Sample], provider: str, kind: str, mode: str, chunks: int) -> list[float]:
    """The wall-clock µs per chunk of every round."""
    return [
        s.wall_us for s in samples if (s.provider, s.kind, s.mode, s.chunks) == (provider, kind, mode, chunks)
    ]


def ratios(
    samples: Sequence[Sample], provider: str, mode: str, chunks: int, mine: str, other: str, cpu: bool = False
) -> list[float]:
    """`mine`'s time over `other`'s, one ratio per round."""
    found: dict[tuple[str, int], float] = {}
    for s in samples:
        if (s.provider, s.mode, s.chunks) == (provider, mode, chunks):
            found[s.kind, s.round] = s.cpu if cpu else s.wall
    rounds = sorted({number for _, number in found})
    return [found[mine, n] / found[other, n] for n in rounds if (mine, n) in found and (other, n) in found]


def main() -> int:
    """Run the group alone and print the µs per chunk and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--providers", default=",".join(STREAM_PROVIDERS))
    parser.add_argument("--sizes", default="1000,20000")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    clear_proxies()
    providers = args.providers.split(",")
    sizes = [int(size) for size in args.sizes.split(",")]
    kinds = args.kinds.split(",")
    if args.child:
        samples = measure(providers[0], args.url, sizes, args.rounds, kinds)
        print(json.dumps([asdict(sample) for sample in samples]))
        return 0
    with ServerProcess(lifetime=3600) as url:
        samples = run(url, providers, sizes, args.rounds, kinds)
    for provider in providers:
        for chunks in sizes:
            for mode in MODES:
                cells = [
                    f"{kind} {median(per_chunk(samples, provider, kind, mode, chunks)):.1f}" for kind in kinds
                ]
                print(f"{provider} {mode} {chunks}: " + ", ".join(cells) + " µs/chunk")
    return 0


if __name__ == "__main__":
    sys.exit(main())
