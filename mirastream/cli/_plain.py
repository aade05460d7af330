"""Plain text output for pipes and dumb terminals: the transcript on stdout, the rest on stderr.

stdout gets what the conversation produced (the answer, the code in fenced blocks, its
output, the paths of saved images), so `mirastream chat ... > answer.md` keeps just that;
notices, questions and the usage footer go to stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO


class PlainRenderer:
    """A `Renderer` that writes plain text as it arrives, with no escape codes."""

    def __init__(self, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> None:
        self._in = stdin
        self._out = stdout
        self._err = stderr
        self._at_line_start = True

    def _write(self, text: str) -> None:
        if not text:
            return
        self._out.write(text)
        self._out.flush()
        self._at_line_start = text.endswith("\n")

    def _end_line(self) -> None:
        if not self._at_line_start:
            self._write("\n")

    def _say(self, text: str) -> None:
        self._end_line()
        self._err.write(text + "\n")
        self._err.flush()

    def notice(self, text: str) -> None:
        """A line of information, on stderr."""
        self._say(text)

    def error(self, text: str) -> None:
        """An error message, on stderr."""
        self._say(f"error: {text}")

    def waiting(self) -> None:
        """Nothing to show while the model reads."""

    def text(self, delta: str) -> None:
        """The answer as it arrives."""
        self._write(delta)

    def thinking(self, delta: str) -> None:
        """Reasoning is not part of the transcript."""

    def code_start(self, language: str) -> None:
        """Open a fenced code block."""
        self._end_line()
        self._write(f"```{language}\n")

    def code(self, delta: str) -> None:
        """The code as the model writes it."""
        self._write(delta)

    def code_end(self) -> None:
        """Close the fenced code block."""
        self._end_line()
        self._write("```\n")

    def _ask(self, prompt: str) -> str | None:
        """Write `prompt` on stderr and read a line of stdin; `None` at the end of input.

        A line read from a pipe is written after the prompt, as a terminal would echo it,
        so each prompt and its answer make one line and the next prompt starts a new one.
        """
        self._end_line()
        self._err.write(prompt)
        self._err.flush()
        if self._in is sys.stdin and sys.stdin.isatty():
            try:
                return input()  # with line editing when `readline` is loaded
            except EOFError:
                line = ""
        else:
            line = self._in.readline()
        answer = line.rstrip("\r\n")
        self._err.write(answer + "\n")
        self._err.flush()
        return answer if line else None

    def confirm(self, language: str) -> bool:
        """Ask on stderr, read the answer from stdin; the end of input means no."""
        answer = self._ask(f"Run this {language} code? [y/N] ") or ""
        approved = answer.strip().lower() in ("y", "yes")
        if not approved:
            self._say("(not run)")
        return approved

    def console_start(self, language: str) -> None:
        """Output starts on its own line."""
        self._end_line()

    def output(self, text: str, stream: str) -> None:
        """The code's output, stdout and stderr both, as it is printed."""
        self._write(text)

    def active_line(self, line: int | None) -> None:
        """Not shown in plain output."""

    def image(self, path: Path) -> None:
        """Where the image was saved."""
        self._end_line()
        self._write(f"[image saved to {path}]\n")

    def console_end(self) -> None:
        """The model's next words start on a new line."""
        self._end_line()

    def finish(self) -> None:
        """End the turn's last line."""
        self._end_line()

    def footer(self, text: str) -> None:
        """The summary of the turn, on stderr."""
        self._say(f"[{text}]")

    def read_message(self) -> str | None:
        """The next line of stdin (the prompt goes to stderr); `None` at the end of input."""
        return self._ask("> ")
