"""Import time, whole process: ``python -c "import <module>"``, timed from outside, median of N.

    python -m bench.imports [--reps 10]

Each round runs every module's process once (after one untimed round that warms the file
cache), in a rotating order; a bare ``python -c pass`` gives the interpreter's own start.
A separate process per module then lists which provider SDKs (and their HTTP and Jupyter
libraries) the import loaded, from `sys.modules`; for the provider packages it also
defines a prompt class first, which must not load the SDK either (that happens on the
first call).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from time import perf_counter

from bench._common import ROOT, median

MODULES = (
    "mirastream",
    "mirastream.openai",
    "mirastream.anthropic",
    "mirastream.gemini",
    "mirastream.tools",
    "openai",
    "anthropic",
    "google.genai",
)
BASELINE = "(bare python)"
# Modules a mirastream import must not load: the SDKs and what only they need.
HEAVY = (
    "openai",
    "anthropic",
    "google.genai",
    "google.generativeai",
    "google.ai",
    "google.api_core",
    "httpx2",
    "httpcore2",
    "jupyter_client",
    "zmq",
    "IPython",
)
_PROMPT_CLASSES = {
    "mirastream.openai": "OpenAIPrompt",
    "mirastream.anthropic": "AnthropicPrompt",
    "mirastream.gemini": "GeminiPrompt",
}


@dataclass
class ImportResult:
    """One module: its whole-process times (s) and the heavy modules its import loaded."""

    module: str
    seconds: list[float]
    loaded: list[str]


def _statement(module: str) -> str:
    return "pass" if module == BASELINE else f"import {module}"


def _time_once(module: str) -> float:
    started = perf_counter()
    subprocess.run([sys.executable, "-c", _statement(module)], cwd=ROOT, check=True)
    return perf_counter() - started


def loaded_by(module: str) -> list[str]:
    """The `HEAVY` modules present after importing `module` (and defining a prompt class)."""
    code = f"import sys, json\nimport {module}\n"
    base = _PROMPT_CLASSES.get(module)
    if base is not None:
        code += f"class Example({module}.{base}):\n    prompt_template = 'USER: hi'\n"
    code += f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True)
    found: list[str] = json.loads(done.stdout)
    return found


def measure(reps: int, modules: Sequence[str] = MODULES) -> list[ImportResult]:
    """Time every module's import `reps` times, and list what each loads."""
    names = [BASELINE, *modules]
    times: dict[str, list[float]] = {name: [] for name in names}
    for name in names:
        _time_once(name)  # the file cache, warm
    for number in range(reps):
        for index in range(len(names)):
            name = names[(index + number) % len(names)]
            times[name].append(_time_once(name))
    return [ImportResult(name, times[name], [] if name == BASELINE else loaded_by(name)) for name in names]


def main() -> int:
    """Run the group alone and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=10)
    args = parser.parse_args()
    results = measure(args.reps)
    for result in results:
        loaded = ", ".join(result.loaded) or "none"
        print(f"{result.module:>22}: {median(result.seconds) * 1e3:7.1f} ms; loads {loaded}")
    print(json.dumps([asdict(result) for result in results]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
