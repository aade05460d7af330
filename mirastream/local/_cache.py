"""The model cache: where files live, finding part files, hashing, assembling, check records."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ._errors import LocalModelError
from ._progress import Progress

CACHE_ENV = "MIRASTREAM_CACHE_DIR"

_CHUNK = 4 << 20
_STALE_PARTIAL_SECONDS = 3600.0


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """mirastream's cache folder.

    `MIRASTREAM_CACHE_DIR`, else `$XDG_CACHE_HOME/mirastream`, else `~/.cache/mirastream`.
    """
    env = os.environ if environ is None else environ
    explicit = env.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = env.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "mirastream"


def part_file(part: str) -> Path:
    """The data file a part names: `package` (its one `data/*.bin` file) or `package:inner/path`.

    The package is located without being imported, so none of its code runs. Raises
    `FileNotFoundError` when the package is not installed.
    """
    package, _, inner = part.partition(":")
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise FileNotFoundError(package)
    root = Path(locations[0])
    if inner:
        candidates = [root / inner] if (root / inner).is_file() else []
    else:
        candidates = sorted(path for path in (root / "data").glob("*.bin") if path.is_file())
    if len(candidates) != 1:
        where = inner or "data/*.bin"
        raise LocalModelError(
            f"model package {package} should hold exactly one {where} file, found {len(candidates)} "
            f"in {root}; name the file as '{package}:<path inside the package>'"
        )
    return candidates[0]


def hash_file(path: Path, progress: Progress, label: str) -> str:
    """The SHA-256 of `path`, reporting progress as step `label`."""
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    progress.start(label)
    try:
        with path.open("rb") as source:
            while block := source.read(_CHUNK):
                digest.update(block)
                done += len(block)
                progress.update(done, total)
    except BaseException:
        progress.fail()
        raise
    progress.done()
    return digest.hexdigest()


def assemble(
    files: Sequence[Path], target: Path, *, label: str, progress: Progress, check: Callable[[str], None]
) -> str:
    """Join `files` into `target` atomically; returns the SHA-256 of the whole.

    The pieces go to a temporary file beside `target`, hashed on the way; `check(sha256)`
    may raise to refuse the result, and then (as on any failure) the temporary file is
    removed. Only a checked file is renamed into place.
    """
    total = sum(file.stat().st_size for file in files)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    partial = Path(name)
    digest = hashlib.sha256()
    done = 0
    progress.start(label)
    try:
        with os.fdopen(handle, "wb") as out:
            for file in files:
                with file.open("rb") as source:
                    while block := source.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
                        done += len(block)
                        progress.update(done, total)
        actual = digest.hexdigest()
        check(actual)
        os.replace(partial, target)
    except BaseException:
        progress.fail()
        partial.unlink(missing_ok=True)
        raise
    progress.done()
    return actual


def remove_stale_partials(folder: Path) -> None:
    """Remove what an interrupted assembly left behind (an hour old or more)."""
    now = time.time()
    for partial in folder.glob(".*.partial"):
        try:
            if now - partial.stat().st_mtime > _STALE_PARTIAL_SECONDS:
                partial.unlink()
        except FileNotFoundError:
            continue


@dataclass(frozen=True)
class Record:
    """What a full check of a file found, kept beside it so later starts only compare size and mtime."""

    sha256: str
    size: int
    mtime_ns: int

    @classmethod
    def read(cls, path: Path) -> Record | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(str(data["sha256"]), int(data["size"]), int(data["mtime_ns"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @classmethod
    def of(cls, file: Path, sha256: str) -> Record:
        stat = file.stat()
        return cls(sha256, stat.st_size, stat.st_mtime_ns)

    def describes(self, file: Path, sha256: str | None) -> bool:
        """Whether this record is about `file` as it is now (and, if given, found `sha256`)."""
        stat = file.stat()
        same_file = (self.size, self.mtime_ns) == (stat.st_size, stat.st_mtime_ns)
        return same_file and (sha256 is None or self.sha256 == sha256)

    def write(self, path: Path) -> None:
        data = {"sha256": self.sha256, "size": self.size, "mtime_ns": self.mtime_ns}
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        temporary.write_text(json.dumps(data), encoding="utf-8")
        os.replace(temporary, path)
