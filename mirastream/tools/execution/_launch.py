"""Apply resource limits, then become the given command.

The host runs this file as a script (`python -I -S _launch.py --max-memory-mb N -- cmd ...`)
so that the limits are set in the child, after `fork` and before `exec`, without importing
mirastream there and without a `preexec_fn` (unsafe with threads in the host). Only the
standard library is used, and only the limits are touched: the host starts the child in
its own session and process group, in its working folder, with its environment.

Limits only ever tighten what the child inherited. Core dumps are disabled.
"""

from __future__ import annotations

import os
import resource
import sys
from collections.abc import Sequence

_MB = 1024 * 1024


def launch_command(
    command: Sequence[str], *, max_memory_mb: int | None, max_processes: int | None
) -> list[str]:
    """The argv that runs `command` under the given limits."""
    options = []
    if max_memory_mb is not None:
        options.append(f"--max-memory-mb={max_memory_mb}")
    if max_processes is not None:
        options.append(f"--max-processes={max_processes}")
    return [sys.executable, "-I", "-S", os.path.abspath(__file__), *options, "--", *command]


def user_tasks(uid: int) -> int | None:
    """How many processes and threads the real user `uid` runs (Linux `/proc`), if known."""
    try:
        pids = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return None
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
        except OSError:
            continue  # the process ended meanwhile
        if int(fields.get("Uid", "-1 ").split()[0]) == uid:
            total += int(fields.get("Threads", "1").strip() or 1)
    return total


def _tighten(which: int, value: int) -> None:
    soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    if soft == resource.RLIM_INFINITY or value < soft:
        resource.setrlimit(which, (value, hard))


def main(arguments: Sequence[str]) -> None:
    """Parse `--max-memory-mb=N --max-processes=N -- command ...`, set the limits, exec."""
    split = list(arguments).index("--")
    options = dict(option.removeprefix("--").split("=", 1) for option in arguments[:split])
    command = list(arguments[split + 1 :])
    _tighten(resource.RLIMIT_CORE, 0)
    if "max-memory-mb" in options:
        _tighten(resource.RLIMIT_AS, int(options["max-memory-mb"]) * _MB)
        # glibc reserves up to 64 MB of address space per thread for malloc arenas, so under
        # RLIMIT_AS the number of threads, not the memory used, would decide what fails.
        os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    if "max-processes" in options:
        # RLIMIT_NPROC counts every task of the real user: allow this many more than now.
        running = user_tasks(os.getuid()) or 0
        _tighten(resource.RLIMIT_NPROC, running + int(options["max-processes"]))
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
