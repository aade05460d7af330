"""Apply resource limits, then become the given command (or keep a sandbox: `--lifeline`).

The host runs this file as a script (`python -I -S _launch.py --max-memory-mb N -- cmd ...`)
so that the limits are set in the child, after `fork` and before `exec`, without importing
mirastream there and without a `preexec_fn` (unsafe with threads in the host). Only the
standard library is used, and only the limits are touched: the host starts the child in
its own session and process group, in its working folder, with its environment.

Limits only ever tighten what the child inherited. Core dumps are disabled.

With `--lifeline=FD --report=FD [--remove=PATH ...]` it is a sandbox's keeper (see
`_sandbox`): it forks, applies the limits and execs `cmd` (bwrap) in the child, writes the
sandbox init's PID (from bwrap's `--info-fd`) to the report pipe, and stays until either
bwrap exits (it then exits the same way) or the lifeline pipe ends (the host is gone: it
kills the sandbox and removes the `--remove` folders).
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import select
import shutil
import signal
import sys
from collections.abc import Sequence

_MB = 1024 * 1024

HOST_EXIT_WAIT = 0.25
"""Seconds a keeper whose sandbox ended waits for the host's lifeline to end as well."""


def launch_command(
    command: Sequence[str],
    *,
    max_memory_mb: int | None,
    max_processes: int | None,
    keeper: Sequence[str] = (),
) -> list[str]:
    """The argv that runs `command` under the given limits (`keeper`: its keeper options)."""
    options = list(keeper)
    if max_memory_mb is not None:
        options.append(f"--max-memory-mb={max_memory_mb}")
    if max_processes is not None:
        options.append(f"--max-processes={max_processes}")
        if keeper:  # counted here, outside the sandbox, where the user's processes are seen
            options.append(f"--running={user_tasks(os.getuid()) or 0}")
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


def apply_limits(options: dict[str, str]) -> None:
    """Set the limits that `options` (parsed from the command line) ask for."""
    _tighten(resource.RLIMIT_CORE, 0)
    if "max-memory-mb" in options:
        _tighten(resource.RLIMIT_AS, int(options["max-memory-mb"]) * _MB)
        # glibc reserves up to 64 MB of address space per thread for malloc arenas, so under
        # RLIMIT_AS the number of threads, not the memory used, would decide what fails.
        os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    if "max-processes" in options:
        # RLIMIT_NPROC counts every task of the real user: allow this many more than now.
        running = int(options["running"]) if "running" in options else user_tasks(os.getuid()) or 0
        _tighten(resource.RLIMIT_NPROC, running + int(options["max-processes"]))


def keep(command: list[str], options: dict[str, str], removals: list[str]) -> None:
    """Run `command` (bwrap) as a sandbox's keeper; see the module docs. Never returns."""
    lifeline, report = int(options["lifeline"]), int(options["report"])
    info_read, info_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(info_read)
            os.close(lifeline)
            os.close(report)
            os.set_inheritable(info_write, True)
            apply_limits(options)
            os.execv(command[0], [command[0], "--info-fd", str(info_write), *command[1:]])
        finally:
            os._exit(127)
    os.close(info_write)
    # The keeper holds no copy of the child's stdio: its end is the child's end.
    null = os.open(os.devnull, os.O_RDWR)
    for descriptor in (0, 1, 2):
        os.dup2(null, descriptor)
    info = b""
    while chunk := os.read(info_read, 4096):
        info += chunk
    os.close(info_read)
    found = re.search(rb'"child-pid"\s*:\s*(\d+)', info)
    init = int(found.group(1)) if found else None
    if init is not None:
        os.write(report, b"%d\n" % init)
    os.close(report)
    try:
        watched, tick = [lifeline, os.pidfd_open(pid)], None
    except (AttributeError, OSError):  # Linux before 5.3: poll for the child's exit
        watched, tick = [lifeline], 0.1
    while True:
        ready, _, _ = select.select(watched, [], [], tick)
        if lifeline in ready and not os.read(lifeline, 1):
            break  # the host is gone
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            # The sandbox may end because the host did (the shell's stdin closed with it), and
            # a dying host closes its files one by one: give the lifeline a moment to end too.
            ready, _, _ = select.select([lifeline], [], [], HOST_EXIT_WAIT)
            if ready and not os.read(lifeline, 1):
                _remove(removals)
            _exit_like(status)
    if init is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(init, signal.SIGKILL)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    _remove(removals)
    os._exit(1)


def _remove(paths: list[str]) -> None:
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def _exit_like(status: int) -> None:
    """Exit as the child did: with its exit status, or by the signal that ended it."""
    code = os.waitstatus_to_exitcode(status)
    if 128 < code < 128 + signal.NSIG:
        code = -(code - 128)  # bwrap exits with 128 + N when its command died by signal N
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code & 0xFF)


def main(arguments: Sequence[str]) -> None:
    """Parse `--max-memory-mb=N --max-processes=N ... -- command ...`; set the limits, exec."""
    split = list(arguments).index("--")
    pairs = [option.removeprefix("--").split("=", 1) for option in arguments[:split]]
    options = {name: value for name, value in pairs if name != "remove"}
    command = list(arguments[split + 1 :])
    if "lifeline" in options:
        keep(command, options, [value for name, value in pairs if name == "remove"])
    apply_limits(options)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
