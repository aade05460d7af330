"""The chat in a real terminal (tmux): what stays on the screen after Ctrl-C, code, questions.

tmux runs the chat on a pseudo-terminal and keeps the screen as a terminal shows it, so a
line drawn twice is seen twice (a byte log of the pty would hide that).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..loopback import LoopbackServer, Reply
from .conftest import child_environment, cli_reply, provider_env

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (apt install tmux)")


class Terminal:
    """A tmux session of its own (a private server socket) running one command."""

    def __init__(self, folder: Path, command: list[str], env: dict[str, str]) -> None:
        self._socket = str(folder / "tmux.sock")
        script = folder / "run.sh"
        exports = "".join(f"export {name}={shlex.quote(value)}\n" for name, value in env.items())
        # The shell outlives the command (a typed Ctrl-C reaches it too), to show its exit
        # status; COLUMNS from the tmux server's environment would hide the terminal's width.
        script.write_text(
            f"unset COLUMNS LINES\n{exports}cd {shlex.quote(str(folder))}\ntrap : INT\n"
            f"{shlex.join(command)}\necho EXITED:$?\nsleep 600\n"
        )
        self._tmux("new-session", "-d", "-x", "100", "-y", "50", f"sh {shlex.quote(str(script))}")

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-S", self._socket, *args], capture_output=True, text=True, timeout=30, check=False
        )
        assert done.returncode == 0, f"tmux {args[0]}: {done.stderr}"
        return done.stdout

    def screen(self) -> list[str]:
        """Every line of the pane, scrollback included, without trailing blanks."""
        return [line.rstrip() for line in self._tmux("capture-pane", "-p", "-S", "-").splitlines()]

    def wait_for(self, text: str, count: int = 1, timeout: float = 60) -> list[str]:
        deadline = time.monotonic() + timeout
        while True:
            lines = self.screen()
            if sum(line.count(text) for line in lines) >= count:
                return lines
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not seen {count} time(s) on:\n" + "\n".join(lines))
            time.sleep(0.1)

    def type(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "0", *keys)

    def close(self) -> None:
        subprocess.run(
            ["tmux", "-S", self._socket, "kill-server"], capture_output=True, timeout=30, check=False
        )


@pytest.fixture
def terminal(server: LoopbackServer, tmp_path: Path) -> Iterator[Terminal]:
    """`mirastream chat` in a 100x50 terminal, on the loopback server (OpenAI)."""
    env = child_environment({**provider_env("openai", server.url), "XDG_DATA_HOME": str(tmp_path / "data")})
    env["TERM"] = "xterm-256color"
    for name in ("COLUMNS", "LINES"):  # the terminal's own size, as a user's chat sees it
        env.pop(name, None)
    shown = Terminal(tmp_path, [sys.executable, "-m", "mirastream", "chat"], env)
    try:
        shown.wait_for("/help lists the commands")
        yield shown
    finally:
        shown.close()


def test_ctrl_c_leaves_the_partial_answer_once_and_the_footer_names_the_model(
    terminal: Terminal, server: LoopbackServer
) -> None:
    server.queue(Reply.sse("openai/text.sse", delay=0.4))
    terminal.type("Recipes?", "Enter")
    terminal.wait_for("Try apple")
    terminal.type("C-c")  # typed: the terminal sends SIGINT (and would echo ^C)
    lines = terminal.wait_for(" · interrupted")  # the footer, after the notice
    answer = [line for line in lines if line.startswith("Try apple")]
    assert len(answer) == 1, "\n".join(lines)
    assert "^C" not in "\n".join(lines)
    footer = next(line for line in lines if " · interrupted" in line)
    assert footer.startswith("openai · gpt-4o-mini")
    terminal.type("/exit", "Enter")
    terminal.wait_for("EXITED:0")


def panel_above(lines: list[str], question: str) -> str:
    """The text of the code panel right above the last line that starts with `question`."""
    end = max(index for index, line in enumerate(lines) if line.startswith(question))
    start = max(index for index in range(end) if lines[index].startswith("╭"))
    assert lines[end - 1].startswith("╰"), "\n".join(lines[start : end + 1])  # nothing in between
    return "\n".join(lines[start:end])


def test_each_question_comes_right_under_its_own_code(terminal: Terminal, server: LoopbackServer) -> None:
    server.queue(cli_reply("openai_two_calls.sse"), Reply.sse("tools/openai_final.sse"))
    terminal.type("Two things", "Enter")
    lines = terminal.wait_for("Run this python code?")
    above = panel_above(lines, "Run this python code?")
    assert "print('first:', 6 * 7)" in above and "echo" not in above
    terminal.type("y", "Enter")
    lines = terminal.wait_for("Run this shell code?")
    assert "first: 42" in lines
    above = panel_above(lines, "Run this shell code?")
    assert "echo second: $((5 + 5))" in above and "print" not in above
    terminal.type("y", "Enter")
    lines = terminal.wait_for("finish: stop")
    assert "second: 10" in lines
    terminal.type("C-d")
    terminal.wait_for("EXITED:0")
