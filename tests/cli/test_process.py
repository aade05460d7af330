"""`python -m mirastream chat` as a real process: piping, Ctrl-C (SIGINT), exit codes, a terminal."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from ..loopback import LoopbackServer, Reply
from .conftest import Process, plain, provider_env


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those of `processes` that still run (zombies count as gone)."""
    running = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                running.append(process)
        except psutil.NoSuchProcess:
            continue
    return running


def wait_until_gone(processes: list[psutil.Process], timeout: float = 10) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while alive(processes) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive(processes)


def running_sleep(process: Process) -> list[psutil.Process]:
    """The chat's descendants once the model's `sleep 30` runs."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = psutil.Process(process.pid).children(recursive=True)
        if any(child.name() == "sleep" for child in children):
            return children
        time.sleep(0.05)
    raise AssertionError("the code's sleep never started")


def test_python_m_mirastream_runs_the_code_round_trip(
    spawn: Callable[..., Process], server: LoopbackServer
) -> None:
    server.queue(Reply.sse("tools/openai_execute.sse"), Reply.sse("tools/openai_final.sse"))
    process = spawn(["chat", "What is 34/24? Compute it."], provider_env("openai", server.url))
    process.write("y\n")
    process.close_stdin()
    assert process.finish() == 0, process.text()
    out, err = process.text()
    assert "\x1b" not in out  # piped: plain text
    assert "ratio: 1.417\n1.4166666666666667\n" in out
    assert out.endswith("34 / 24 is about 1.417.\n")
    assert "Run this python code? [y/N]" in err


def test_ctrl_c_while_the_model_streams_exits_130(
    spawn: Callable[..., Process], server: LoopbackServer
) -> None:
    server.queue(Reply.sse("openai/text.sse", delay=0.3))
    process = spawn(["chat", "Recipes?", "--no-tools"], provider_env("openai", server.url))
    process.wait_for(lambda out, err: "Try" in out)
    os.kill(process.pid, signal.SIGINT)
    assert process.finish(30) == 130
    out, err = process.text()
    assert "baked apples." not in out  # it stopped
    assert "interrupted" in err and "Traceback" not in err
    assert server.last_request.disconnected.wait(10)  # the connection was released


def test_ctrl_c_while_code_runs_stops_it_and_leaves_no_process(
    spawn: Callable[..., Process], server: LoopbackServer
) -> None:
    server.queue(Reply.sse("tools/openai_sleep.sse"))
    process = spawn(["chat", "Sleep a while", "--auto-run"], provider_env("openai", server.url))
    process.wait_for(lambda out, err: "started" in out)
    children = running_sleep(process)
    os.kill(process.pid, signal.SIGINT)
    assert process.finish(30) == 130
    assert wait_until_gone(children) == []
    _, err = process.text()
    assert "interrupted" in err and "Traceback" not in err
    assert len(server.requests) == 1  # the model was not asked again


def test_interactive_ctrl_c_stops_the_code_and_returns_to_the_prompt(
    spawn: Callable[..., Process], server: LoopbackServer
) -> None:
    server.queue(Reply.sse("tools/openai_sleep.sse"), Reply.sse("openai/text.sse"))
    process = spawn(["chat", "--auto-run"], provider_env("openai", server.url))
    process.wait_for(lambda out, err: err.endswith("> "))
    process.write("Sleep a while\n")
    process.wait_for(lambda out, err: "started" in out)
    children = running_sleep(process)
    os.kill(process.pid, signal.SIGINT)
    process.wait_for(lambda out, err: "interrupted" in err and err.endswith("> "))
    assert wait_until_gone(children) == []  # stopped while the chat goes on
    assert process.popen.poll() is None
    process.write("Recipes?\n")
    process.wait_for(lambda out, err: "baked apples." in out)
    process.close_stdin()
    assert process.finish() == 0
    # The interrupted turn kept its text but not the unanswered tool call.
    roles = [message["role"] for message in server.requests[1].json()["messages"]]
    assert roles == ["system", "user"]


def test_ctrl_c_at_the_question_means_the_code_never_runs(
    spawn: Callable[..., Process], server: LoopbackServer
) -> None:
    server.queue(Reply.sse("tools/openai_execute.sse"), Reply.sse("tools/openai_final.sse"))
    process = spawn(["chat", "What is 34/24?"], provider_env("openai", server.url))
    process.wait_for(lambda out, err: err.endswith("[y/N] "))
    os.kill(process.pid, signal.SIGINT)
    assert process.finish(30) == 130
    out, err = process.text()
    assert "ratio: 1.417" not in out
    assert "interrupted" in err and "Traceback" not in err
    assert len(server.requests) == 1


def test_two_ctrl_c_at_the_prompt_exit(spawn: Callable[..., Process], server: LoopbackServer) -> None:
    process = spawn(["chat", "--no-tools"], provider_env("openai", server.url))
    process.wait_for(lambda out, err: err.endswith("> "))
    os.kill(process.pid, signal.SIGINT)
    process.wait_for(lambda out, err: "Ctrl-C again" in err and err.endswith("> "))
    assert process.popen.poll() is None
    os.kill(process.pid, signal.SIGINT)
    assert process.finish(30) == 130
    assert "Traceback" not in process.text()[1]


def test_a_missing_key_exits_2_naming_the_variable(spawn: Callable[..., Process]) -> None:
    process = spawn(["chat", "hello", "--provider", "gemini"], {})
    assert process.finish() == 2
    _, err = process.text()
    assert "GEMINI_API_KEY" in err and "Traceback" not in err


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_in_a_terminal_ctrl_c_is_typed_and_output_is_rich(server: LoopbackServer, tmp_path: Path) -> None:
    import fcntl
    import subprocess
    import sys
    import termios

    from .conftest import child_environment

    server.queue(Reply.sse("tools/openai_execute.sse"), Reply.sse("tools/openai_final.sse"))
    server.queue(Reply.sse("openai/text.sse", delay=0.3))
    controller, terminal = os.openpty()

    def own_terminal() -> None:  # a new session whose controlling terminal is the pty
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    env = child_environment(
        {**provider_env("openai", server.url), "TERM": "xterm-256color", "XDG_DATA_HOME": str(tmp_path)}
    )
    env.update(COLUMNS="100", LINES="40")
    process = subprocess.Popen(
        [sys.executable, "-m", "mirastream", "chat"],
        cwd=tmp_path,
        env=env,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        preexec_fn=own_terminal,  # makes the pty the controlling terminal
    )
    os.close(terminal)
    seen = bytearray()

    def read_until(text: str, count: int = 1, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while plain(seen.decode(errors="replace")).count(text) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not seen in:\n{plain(seen.decode(errors='replace'))}")
            try:
                seen.extend(os.read(controller, 65536))
            except OSError:  # the terminal closed
                time.sleep(0.05)

    try:
        read_until("> ")
        os.write(controller, b"What is 34/24? Compute it.\r")
        read_until("Run this python code?")
        os.write(controller, b"y\r")
        read_until("finish: stop")
        os.write(controller, b"Recipes?\r")
        read_until("Try")
        os.write(controller, b"\x03")  # Ctrl-C, typed: the terminal sends SIGINT
        read_until("interrupted")
        read_until("> ", count=3)  # the prompt is back
        os.write(controller, b"/exit\r")
        try:
            status = process.wait(30)
        except subprocess.TimeoutExpired:
            read_until("never printed", timeout=1)  # fails, showing the screen
            raise
        assert status == 0
        with_codes = seen.decode(errors="replace")
        assert "\x1b[" in with_codes
        text = plain(with_codes)
        assert "ratio: 1.417" in text and "34 / 24 is about 1.417." in text
        assert "╭" in text  # the code panel
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        os.close(controller)


def test_where_no_sandbox_can_be_built_one_line_names_no_sandbox(
    server: LoopbackServer, tmp_path: Path
) -> None:
    import subprocess
    import sys

    from ..no_userns import without_user_namespaces
    from .conftest import child_environment

    server.queue(Reply.sse("tools/openai_execute.sse"), Reply.sse("tools/openai_final.sse"))
    # Inside a sandbox that forbids user namespaces, the chat cannot build its own.
    outer = [*without_user_namespaces(tmp_path), "--chdir", str(tmp_path)]
    env = child_environment({**provider_env("openai", server.url), "XDG_DATA_HOME": str(tmp_path)})

    def chat(*args: str) -> subprocess.CompletedProcess[str]:
        command = [*outer, "--", sys.executable, "-m", "mirastream", "chat", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)

    refused = chat("What is 34/24?")
    assert refused.returncode == 2, refused.stderr
    (line,) = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert "no sandbox for model-written code can be built here" in line and "--no-sandbox" in line
    assert "Traceback" not in refused.stderr
    assert server.requests == []

    uncontained = chat("What is 34/24?", "--no-sandbox", "--auto-run")
    assert uncontained.returncode == 0, uncontained.stderr
    assert "warning: --no-sandbox" in uncontained.stderr
    assert "ratio: 1.417" in uncontained.stdout
