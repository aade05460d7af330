"""The safety limits of an execution session."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from ...errors import ConfigurationError

__all__ = ["Limits"]


@dataclass(frozen=True)
class Limits:
    """How long, how big and where the code of a session may run.

    Attributes:
        timeout: wall-clock seconds per execution. Past it the code is interrupted (`SIGINT`),
            and killed with its whole process group if it is still running `grace` seconds
            later; the execution then finishes with status `"timeout"`.
        grace: seconds an interrupted execution (timeout, `interrupt()`, or the consumer
            stopping early) gets to stop before its process group is killed.
        max_memory_mb: the child's address-space limit (`RLIMIT_AS`), inherited by every
            process it starts; allocations past it fail (`MemoryError` in Python). `None`:
            no limit. It applies to each process on its own, not to the session as a whole;
            in a sandbox it also caps the size of its private `/tmp` and `/dev/shm` (each).
            This limits address space, not memory in use: a Python kernel needs about 300 MB
            to start, and runtimes that reserve much more than they use (the JVM, Go
            programs, BLAS libraries with one thread per core) may fail under it.
            The launcher also sets `MALLOC_ARENA_MAX=2` (unless set), so that glibc's
            per-thread reservations do not eat the allowance.
        max_processes: how many more processes and threads the child may create
            (`RLIMIT_NPROC`). Linux counts that limit per user, not per process tree, so the
            launcher sets it to what the user already runs plus this number; processes the
            user starts elsewhere meanwhile share the allowance. Not enforced for root.
            `None`: no limit.
        max_output_bytes: bytes of output (text as UTF-8, image data) streamed per execution;
            past it the output is dropped, with one note on `stderr`, while the code keeps
            running. `None`: unlimited (capping what the model sees is the tool layer's job).
        workdir: the child's working folder (created if missing, never removed), the one
            folder of the host a sandbox can write. `None`: a fresh temporary folder,
            removed on `close()`.
        env: the child's environment. `None`: in a sandbox, the allow-listed names of
            `os.environ` (`PATH`, `LANG`, `LC_*`, `TERM`, `TZ`, ...) and those of
            `keep_env`; without one, a copy of `os.environ` without variables whose names
            look secret (see `keep_env`). A mapping: exactly that, plus `PATH`, `HOME` and
            `LANG` when it lacks them.
        keep_env: names to pass on from `os.environ`: in a sandbox, besides the
            allow-list; without one, although they look secret (`"OPENAI_API_KEY"`). Also
            `"HOME"`, which otherwise points at a private, empty folder of the session.
    """

    timeout: float = 60.0
    grace: float = 2.0
    max_memory_mb: int | None = 2048
    max_processes: int | None = 256
    max_output_bytes: int | None = None
    workdir: str | Path | None = None
    env: Mapping[str, str] | None = None
    keep_env: Sequence[str] = ()

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ConfigurationError(f"Limits.timeout must be positive, not {self.timeout!r}")
        if not self.grace >= 0:
            raise ConfigurationError(f"Limits.grace must not be negative, not {self.grace!r}")
        for name in ("max_memory_mb", "max_processes"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigurationError(f"Limits.{name} must be at least 1 or None, not {value!r}")
        if self.max_output_bytes is not None and self.max_output_bytes < 0:
            raise ConfigurationError(
                f"Limits.max_output_bytes must not be negative, not {self.max_output_bytes!r}"
            )
        if isinstance(self.keep_env, str):
            raise ConfigurationError("Limits.keep_env is a sequence of names, not one string")
        # Frozen copies, so a caller mutating its own dict or list later changes nothing here.
        if self.env is not None:
            object.__setattr__(self, "env", MappingProxyType(dict(self.env)))
        object.__setattr__(self, "keep_env", tuple(self.keep_env))
