"""Time to first chunk: from the start of a request to the first text in the consumer's hands.

    python -m bench.first_chunk [--reps 50] [--providers openai,anthropic,gemini]

The server sends the head and the events up to the first text at once. Each provider runs
in a fresh process with warm clients (connections open, SDKs imported: the steady state of
a server), sync and async, `reps` times each reader (the floor, the raw SDK and mirastream)
in a rotating order; each stream is read to its end after the first text. Reported: each
reader's median time in ms and mirastream's overhead over the raw SDK, as the median of the
differences within a round.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from time import perf_counter

from bench._common import PROVIDERS, clear_proxies, median, run_child
from bench._readers import ASYNC_READERS, SYNC_READERS
from bench._sse_server import ServerProcess

READERS = ("floor", "sdk", "content")
MODES = ("sync", "async")
CHUNKS = 20
WARM_UP = 5


@dataclass
class FirstChunk:
    """One request: the seconds from its start to its first text."""

    provider: str
    kind: str
    mode: str
    round: int
    seconds: float


def measure(provider: str, url: str, reps: int) -> list[FirstChunk]:
    """Time `reps` first chunks of every reader of `provider`, in this process."""
    sync_readers = {kind: SYNC_READERS[kind](provider, url) for kind in READERS}
    async_readers = {kind: ASYNC_READERS[kind](provider, url) for kind in READERS}
    loop = asyncio.new_event_loop()
    found: list[FirstChunk] = []
    try:
        for kind in READERS:
            for _ in range(WARM_UP):
                sync_readers[kind](CHUNKS)
                loop.run_until_complete(async_readers[kind](CHUNKS))
        gc.collect()
        gc.freeze()  # what the imports and warm-up made stays out of the timed collections
        for number in range(reps):
            for mode in MODES:
                for index in range(len(READERS)):
                    kind = READERS[(index + number) % len(READERS)]
                    gc.collect()  # the garbage of one reader is not another's cost
                    started = perf_counter()
                    if mode == "sync":
                        parts, first = sync_readers[kind](CHUNKS)
                    else:
                        parts, first = loop.run_until_complete(async_readers[kind](CHUNKS))
                    if len(parts) != CHUNKS or first < started:
                        raise AssertionError(f"{provider} {kind} {mode}: {len(parts)} pieces")
                    found.append(FirstChunk(provider, kind, mode, number, first - started))
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    return found


def run(url: str, providers: Sequence[str], reps: int) -> list[FirstChunk]:
    """Measure each provider in a fresh process."""
    found: list[FirstChunk] = []
    for provider in providers:
        arguments = ["--child", "--url", url, "--providers", provider, "--reps", str(reps)]
        found.extend(FirstChunk(**row) for row in run_child("bench.first_chunk", arguments, timeout=1800))
        print(f"  first chunk {provider}: done", file=sys.stderr)
    return found


def times_ms(found: Sequence[FirstChunk], provider: str, kind: str, mode: str) -> list[float]:
    """The first-chunk times of one reader, in ms."""
    return [f.seconds * 1e3 for f in found if (f.provider, f.kind, f.mode) == (provider, kind, mode)]


def overhead_ms(found: Sequence[FirstChunk], provider: str, mode: str, other: str = "sdk") -> list[float]:
    """mirastream's first-chunk time minus `other`'s, one difference per round, in ms."""
    pairs: dict[tuple[str, int], float] = {}
    for f in found:
        if (f.provider, f.mode) == (provider, mode):
            pairs[f.kind, f.round] = f.seconds * 1e3
    rounds = sorted({number for _, number in pairs})
    return [
        pairs["content", n] - pairs[other, n]
        for n in rounds
        if ("content", n) in pairs and (other, n) in pairs
    ]


def main() -> int:
    """Run the group alone and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--providers", default=",".join(PROVIDERS))
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    clear_proxies()
    providers = args.providers.split(",")
    if args.child:
        print(json.dumps([asdict(item) for item in measure(providers[0], args.url, args.reps)]))
        return 0
    with ServerProcess(lifetime=3600) as url:
        found = run(url, providers, args.reps)
    for provider in providers:
        for mode in MODES:
            cells = [f"{kind} {median(times_ms(found, provider, kind, mode)):.2f}" for kind in READERS]
            extra = median(overhead_ms(found, provider, mode))
            print(f"{provider} {mode}: " + ", ".join(cells) + f" ms; mirastream - sdk {extra:+.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
