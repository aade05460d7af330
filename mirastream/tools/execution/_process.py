"""Process-group signals and exit descriptions shared by the sessions.

Every child is started with `start_new_session=True`, so its pid is also its process group
and session id, and every process it starts stays in that group unless it makes its own
session (`setsid`, daemons): those escape a group kill.
"""

from __future__ import annotations

import contextlib
import os
import signal


def signal_group(pgid: int, signum: int) -> bool:
    """Send `signum` to the process group `pgid`; `False` if the group no longer exists."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        # A member changed its user id (a setuid program): signal what we still may.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pgid, signum)
    return True


def interrupt_group(pgid: int) -> None:
    """`SIGINT` to the whole group, as Ctrl-C in a terminal."""
    signal_group(pgid, signal.SIGINT)


def kill_group(pgid: int) -> None:
    """`SIGKILL` to the whole group."""
    signal_group(pgid, signal.SIGKILL)


def describe_exit(returncode: int) -> str:
    """`"exit status 2"` or `"signal 9 (SIGKILL)"` for a `subprocess` return code."""
    if returncode >= 0:
        return f"exit status {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"
    return f"signal {-returncode} ({name})"
