"""The folders of one session's child: its working folder, its `HOME`, and private files.

Everything lives under one private temporary folder (mode 0700), removed on close:
`work/` (the working folder, unless `Limits.workdir` names one), `home/` (the child's
`HOME`) and `run/` (the kernel's connection file and sockets, the shell's code file).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from pathlib import Path

from .limits import Limits


class Workspace:
    """The folders of one running child; `remove()` deletes what the session created."""

    __slots__ = ("home", "root", "run", "workdir")

    def __init__(self, limits: Limits) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="mirastream-session-"))
        self.run = self.root / "run"
        self.home = self.root / "home"
        self.run.mkdir()
        self.home.mkdir()
        if limits.workdir is None:
            self.workdir = self.root / "work"
            self.workdir.mkdir()
        else:
            self.workdir = Path(limits.workdir).expanduser().resolve()
            self.workdir.mkdir(parents=True, exist_ok=True)

    def remove(self) -> None:
        """Delete the private folder, also what the child made read-only inside it."""
        remove_tree(self.root)


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    if not path.exists():
        return
    # The child made something read-only: make every folder writable, then try again.
    with contextlib.suppress(OSError):
        os.chmod(path, stat.S_IRWXU)
    for folder, folders, _ in os.walk(path):  # top-down: a folder is fixed before it is entered
        for name in folders:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(folder, name), stat.S_IRWXU)
    shutil.rmtree(path, ignore_errors=True)
