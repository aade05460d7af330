"""Helpers for the session tests: reading events, watching processes, and the two session kinds.

A `Kind` holds what the tests that run against both `PythonSession` and `ShellSession` need
to say in the session's own language (print, sleep, keep some state, ignore `SIGINT`, ...).
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from mirastream.tools.execution import (
    ActiveLine,
    ExecutionEvent,
    Finished,
    Output,
    PythonSession,
    ShellSession,
)

AnySession = PythonSession | ShellSession


def run(session: AnySession, code: str) -> list[ExecutionEvent]:
    return list(session.execute(code))


async def acollect(events: AsyncIterator[ExecutionEvent]) -> list[ExecutionEvent]:
    return [event async for event in events]


def stdout(events: list[ExecutionEvent]) -> str:
    return "".join(event.text for event in events if isinstance(event, Output) and event.stream == "stdout")


def stderr(events: list[ExecutionEvent]) -> str:
    return "".join(event.text for event in events if isinstance(event, Output) and event.stream == "stderr")


def finished(events: list[ExecutionEvent]) -> Finished:
    assert [type(event) for event in events].count(Finished) == 1
    last = events[-1]
    assert isinstance(last, Finished)
    return last


def gone(pid: int, *, group: bool = True, within: float = 5.0) -> bool:
    """Whether the process group (or process) `pid` no longer exists, waiting up to `within` s."""
    deadline = time.monotonic() + within
    while True:
        try:
            (os.killpg if group else os.kill)(pid, 0)
        except ProcessLookupError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def threads_settle(expected: int, within: float = 2.0) -> int:
    """The thread count once it is `expected`, or after `within` s (a thread may be ending)."""
    deadline = time.monotonic() + within
    while threading.active_count() != expected and time.monotonic() < deadline:
        time.sleep(0.01)
    return threading.active_count()


@contextmanager
def calling_after(seconds: float, action: Callable[[], None]) -> Iterator[None]:
    """Call `action` from another thread `seconds` after the block starts; wait for it at its end."""
    timer = threading.Timer(seconds, action)
    timer.start()
    try:
        yield
    finally:
        timer.join()


@dataclass(frozen=True)
class Kind:
    """A session kind, and code in its language for what the shared tests make it do."""

    name: str
    session: type[PythonSession] | type[ShellSession]
    needs: pytest.MarkDecorator
    """Skips a test where the kind cannot run."""
    quote: Callable[[str], str]
    say_template: str
    """Prints `{text}` and a newline on stdout."""
    warn_template: str
    """Prints `{text}` and a newline on stderr."""
    sleep_template: str
    touch_template: str
    """Creates the file `{path}`."""
    pid: str
    """Prints the pid of the child (the leader of its process group)."""
    set_state: str
    read_state: str
    """Prints the state `set_state` left: `kept`, or `lost` in a new child."""
    kept: str
    lost_template: str
    """What `read_state` prints in a new child, started in the working folder `{workdir}`."""
    loops: tuple[str, ...]
    """Code that runs until it is stopped."""
    deaf: str
    """Code that ignores `SIGINT` and runs until it is killed."""
    interrupt_note: str
    """What an interrupted execution's stderr shows (a shell shows nothing in particular)."""
    interrupted_error: str
    flood: str
    """Prints 5,000,000 characters."""
    flood_peak: int
    """The most memory the host may hold at once while the flood streams."""
    spawn: str
    """Starts a `sleep 60` child, prints the child's pid and the sleep's, then sleeps."""
    where: str
    """Prints `$HOME` and the working folder, and writes `made.txt` there."""
    home_files: frozenset[str]
    """What the child itself writes into its `HOME`."""
    secrets: str
    """Prints `[$OPENAI_API_KEY][$GITHUB_TOKEN]`."""
    held_back: tuple[ExecutionEvent, ...]
    """What an execution ended by `close()` hands out before its `Finished`."""
    async_cycles: int
    """How many async start/close cycles the leak test makes."""

    def say(self, text: str) -> str:
        return self.say_template.format(text=self.quote(text))

    def warn(self, text: str) -> str:
        return self.warn_template.format(text=self.quote(text))

    def sleep(self, seconds: float) -> str:
        return self.sleep_template.format(seconds=seconds)

    def touch(self, path: Path) -> str:
        return self.touch_template.format(path=self.quote(str(path)))

    def lost(self, session: AnySession) -> str:
        return self.lost_template.format(workdir=session.workdir)

    def busy(self, marker: Path) -> str:
        """Says `started`, sleeps 30 s, then creates `marker`: the code a stop must cut short."""
        return "\n".join([self.say("started"), self.sleep(30), self.touch(marker)])


PYTHON = Kind(
    name="python",
    session=PythonSession,
    needs=pytest.mark.skipif(importlib.util.find_spec("ipykernel") is None, reason="needs ipykernel"),
    quote=repr,
    say_template="print({text})",
    warn_template="import sys; print({text}, file=sys.stderr)",
    sleep_template="import time; time.sleep({seconds})",
    touch_template="open({path}, 'w').close()",
    pid="import os; print(os.getpid())",
    set_state="kept = 'yes'",
    read_state="print(f\"[{globals().get('kept', '')}]\")",
    kept="[yes]\n",
    lost_template="[]\n",
    loops=("while True: pass",),
    deaf="import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass",
    interrupt_note="KeyboardInterrupt",
    interrupted_error="interrupted (KeyboardInterrupt)",
    flood="for i in range(5000):\n    print('x' * 999)",
    flood_peak=2_500_000,
    spawn=(
        "import os, subprocess, time\n"
        "child = subprocess.Popen(['sleep', '60'])\n"
        "print(os.getpid(), child.pid, flush=True)\n"
        "time.sleep(60)"
    ),
    where="import os; open('made.txt', 'w').write('x'); print(os.environ['HOME'], os.getcwd())",
    home_files=frozenset({".ipython"}),
    secrets=(
        "import os\n"
        "print(''.join(f\"[{os.environ.get(name, '')}]\" for name in ('OPENAI_API_KEY', 'GITHUB_TOKEN')))"
    ),
    held_back=(ActiveLine(None),),
    async_cycles=3,
)

SHELL = Kind(
    name="shell",
    session=ShellSession,
    needs=pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash"),
    quote=shlex.quote,
    say_template="echo {text}",
    warn_template="echo {text} >&2",
    sleep_template="sleep {seconds}",
    touch_template="touch {path}",
    pid="echo $$",
    set_state="cd /; KEPT=yes",
    read_state='echo "[$KEPT] $PWD"',
    kept="[yes] /\n",
    lost_template="[] {workdir}\n",
    loops=("sleep 30", "while true; do :; done", "while true; do sleep 1; done"),
    deaf="trap '' INT; sleep 30",
    interrupt_note="",
    interrupted_error="interrupted (exit status 130)",
    flood="head -c 5000000 /dev/zero | tr '\\0' x",
    flood_peak=1_000_000,
    spawn="sleep 60 & echo $$ $!; sleep 60",
    where='echo x > made.txt; echo "$HOME $PWD"',
    home_files=frozenset(),
    secrets='echo "[$OPENAI_API_KEY][$GITHUB_TOKEN]"',
    held_back=(),
    async_cycles=20,
)

KINDS = [pytest.param(kind, id=kind.name, marks=kind.needs) for kind in (PYTHON, SHELL)]
"""Both kinds, for `pytest.mark.parametrize` and fixtures, each skipped where it cannot run."""

LOOPS = [
    pytest.param(kind, loop, id=f"{kind.name}-{loop}", marks=kind.needs)
    for kind in (PYTHON, SHELL)
    for loop in kind.loops
]
"""`(kind, code that runs until it is stopped)`, for every such code of both kinds."""
