"""Run `mirastream chat` in-process (`main([...])`) and as a real process, against the loopback server."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mirastream.cli import main

from ..loopback import LoopbackServer, Reply

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")

PROVIDER_ENV = {
    "openai": ("OPENAI_API_KEY", "sk-test-key", "OPENAI_BASE_URL", "/v1"),
    "anthropic": ("ANTHROPIC_API_KEY", "sk-ant-test", "ANTHROPIC_BASE_URL", ""),
    "gemini": ("GEMINI_API_KEY", "gemini-test-key", "GOOGLE_GEMINI_BASE_URL", ""),
}


def cli_reply(name: str, **options: object) -> Reply:
    """A reply replayed from `tests/cli/transcripts/<name>`."""
    return Reply((HERE / "transcripts" / name).read_bytes(), **options)


def provider_env(provider: str, url: str) -> dict[str, str]:
    """The key and base URL variables that point `provider`'s SDK at the loopback server."""
    key, value, base, suffix = PROVIDER_ENV[provider]
    return {key: value, base: url + suffix}


def plain(text: str) -> str:
    """`text` without terminal escape codes and carriage returns."""
    return ANSI.sub("", text).replace("\r", "")


@dataclass
class Run:
    """The result of one run of the command."""

    status: int
    out: str
    err: str


@pytest.fixture
def connect(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Point a provider at the loopback server through its environment variables."""

    def setup(provider: str) -> None:
        for name, value in provider_env(provider, server.url).items():
            monkeypatch.setenv(name, value)

    return setup


@pytest.fixture
def user_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder the user runs the chat in (the current folder), with the data folder beside it."""
    folder = tmp_path / "project"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return folder


@pytest.fixture
def chat(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, user_folder: Path
) -> Callable[..., Run]:
    """`chat("chat", "hello", stdin="y\\n")` runs `main` with that stdin; stdout is not a terminal.

    It runs in `user_folder` (the code's workspace), and keeps its log under a temporary
    `XDG_DATA_HOME`.
    """

    def run(*argv: str, stdin: str = "") -> Run:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        status = main(list(argv))
        captured = capsys.readouterr()
        return Run(status, captured.out, captured.err)

    return run


def child_environment(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment without provider settings, plus `extra`."""
    clean = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("OPENAI_", "ANTHROPIC_", "GEMINI_", "GOOGLE_"))
        and name not in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "NO_COLOR")
    }
    return {**clean, "PYTHONUNBUFFERED": "1", **extra}


class Process:
    """`python -m mirastream ...` running in the background, its output collected as it comes."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, **options: object) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "mirastream", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            **options,
        )
        self.out = bytearray()
        self.err = bytearray()
        self._readers = [
            threading.Thread(target=self._read, args=(self.popen.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.popen.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: io.BufferedReader, into: bytearray) -> None:
        while chunk := stream.read1(4096):
            into.extend(chunk)

    @property
    def pid(self) -> int:
        return int(self.popen.pid)

    def text(self) -> tuple[str, str]:
        return self.out.decode(errors="replace"), self.err.decode(errors="replace")

    def wait_for(self, condition: Callable[[str, str], bool], timeout: float = 60) -> None:
        """Wait until `condition(stdout, stderr)` holds; fail with the output if it does not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition(*self.text()):
                return
            if self.popen.poll() is not None:
                time.sleep(0.2)  # let the readers catch up with the last output
                if condition(*self.text()):
                    return
                break
            time.sleep(0.05)
        out, err = self.text()
        raise AssertionError(f"condition not met; exit={self.popen.poll()}\nstdout:\n{out}\nstderr:\n{err}")

    def write(self, text: str) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(text.encode())
        self.popen.stdin.flush()

    def close_stdin(self) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.close()

    def finish(self, timeout: float = 60) -> int:
        status = int(self.popen.wait(timeout))
        for reader in self._readers:
            reader.join(5)
        return status


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Process]]:
    """Start `python -m mirastream ...` in `tmp_path/project`, its data folder `tmp_path/data`.

    Any process still running at the end is killed.
    """
    started: list[Process] = []
    folder = tmp_path / "project"
    folder.mkdir(exist_ok=True)

    def start(args: list[str], env: dict[str, str], **options: object) -> Process:
        environment = child_environment({"XDG_DATA_HOME": str(tmp_path / "data"), **env})
        process = Process(args, environment, folder, **options)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.popen.poll() is None:
            process.popen.kill()
            process.popen.wait(10)
        for stream in (process.popen.stdin, process.popen.stdout, process.popen.stderr):
            if stream is not None:
                stream.close()
