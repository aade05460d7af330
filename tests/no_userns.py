"""A sandbox that forbids user namespaces: where mirastream cannot build its own sandbox.

Tests run commands inside it to check the clear error and the opt-out. Its private `/tmp`
must not hide this interpreter or mirastream (a clone under `/tmp`, as in CI), so those are
bound back in.
"""

from __future__ import annotations

import sys
from pathlib import Path

import mirastream
from mirastream.tools.execution._sandbox import find_bwrap


def without_user_namespaces(*binds: Path) -> list[str]:
    """The bwrap command prefix (ending before `--`) of such a sandbox; `binds` stay writable."""
    command = [find_bwrap(), "--unshare-user", "--disable-userns", "--ro-bind", "/", "/", "--proc", "/proc"]
    command += ["--dev", "/dev", "--tmpfs", "/tmp"]
    for needed in sorted({sys.prefix, str(Path(mirastream.__file__).resolve().parents[1])}):
        if Path(needed).resolve().is_relative_to("/tmp"):
            command += ["--ro-bind", needed, needed]
    for path in binds:
        command += ["--bind", str(path), str(path)]
    return command
