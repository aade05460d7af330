"""Terminal output with rich: live Markdown, code panels that fill in as the model writes, live output.

Each kind of block (answer, reasoning, code, output) has one transient live region at the
bottom of the screen. What is complete is printed above it for good: paragraphs of the
answer as soon as they end, lines of output as they come (in batches), the code panel once
the code is written. So scrollback keeps everything and the live region never outgrows the
screen.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TextIO

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.live import Live
from rich.markdown import Markdown
from rich.panel import Panel
from rich.rule import Rule
from rich.segment import Segment
from rich.spinner import Spinner
from rich.syntax import Syntax
from rich.text import Text

from ._interrupts import TerminalEcho

if TYPE_CHECKING:
    from rich.style import StyleType

Block = Literal["wait", "text", "thinking", "code", "console"]

_LEXERS = {"python": "python", "shell": "bash"}
_LIST_ITEM = re.compile(r"([-*+]|\d+[.)])(\s|$)")
_FLUSH_EVERY = 0.05
"""Seconds between two prints of finished output lines (a flood of output stays cheap)."""


def stable_prefix(markdown: str) -> int:
    """How much of `markdown` is finished paragraphs that will not change as more text comes.

    The cut is after the last blank line that is outside a fenced code block and is followed
    by text starting at the margin that does not start a list item (so a list, its items and
    their indented continuations stay together).
    """
    cut = 0
    fenced = False
    position = 0
    lines = markdown.split("\n")
    for number, line in enumerate(lines[:-1]):
        position += len(line) + 1
        stripped = line.lstrip()
        if stripped.startswith(("```", "~~~")):
            fenced = not fenced
            continue
        if fenced or line.strip():
            continue
        following = lines[number + 1]
        if (
            following
            and not following[0].isspace()
            and not _LIST_ITEM.match(following)
            and number > 0
            and lines[number - 1].strip()
        ):
            cut = position
    return cut


class _Tail:
    """Renders the last lines of a renderable that fit on the screen (the live region's view)."""

    def __init__(self, make: Callable[[], RenderableType]) -> None:
        self._make = make

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = console.render_lines(self._make(), options, pad=False)
        room = max(console.size.height - 2, 3)
        for line in lines[-room:]:
            yield from line
            yield Segment.line()


def _tail_lines(text: str, count: int) -> str:
    """The last `count` lines of `text` (cheap on long texts)."""
    start = len(text)
    for _ in range(count):
        start = text.rfind("\n", 0, start)
        if start < 0:
            return text
    return text[start + 1 :]


class RichRenderer:
    """A `Renderer` for terminals."""

    def __init__(self, console: Console, errors: Console, stdin: TextIO) -> None:
        self._console = console
        self._errors = errors
        self._stdin = stdin
        self._echo = TerminalEcho(stdin)
        self._live: Live | None = None
        self._block: Block | None = None
        self._pending = ""  # the answer's unfinished paragraphs, or reasoning, or unprinted output
        self._stream = "stdout"  # which stream the unprinted output came from
        self._code = ""
        self._language = ""
        self._line: int | None = None
        self._started = 0.0
        self._flushed = 0.0
        self._spinner = Spinner("dots", style="dim")

    # Blocks ------------------------------------------------------------------------------

    def _open(self, block: Block, make: Callable[[], RenderableType]) -> None:
        if self._block == block:
            return
        self._close()
        self._echo.hide()  # an echoed key (`^C`) would shift the live region: see TerminalEcho
        self._block = block
        self._live = Live(
            _Tail(make),
            console=self._console,
            transient=True,
            refresh_per_second=10,
            vertical_overflow="visible",
        )
        self._live.start()

    def _close(self) -> None:
        block, live = self._block, self._live
        self._block, self._live = None, None
        if live is not None:
            live.stop()
        if block == "text" and self._pending.strip():
            self._console.print(Markdown(self._pending, code_theme="ansi_dark"))
        elif block == "thinking" and self._pending.strip():
            self._console.print(Text(self._pending.strip(), style="dim italic"))
        elif block == "code":
            self._console.print(self._code_panel())
        elif block == "console":
            self._print_output(self._pending, self._stream)
            self._console.print(Text(f"ran in {time.monotonic() - self._started:.2f} s", style="dim"))
        self._pending = ""

    # The answer and the reasoning --------------------------------------------------------

    def waiting(self) -> None:
        """A spinner until something streams (it leaves nothing behind)."""
        self._started = time.monotonic()
        self._open("wait", self._waiting)

    def _waiting(self) -> RenderableType:
        self._spinner.text = Text(f"waiting for the model · {time.monotonic() - self._started:.0f} s", "dim")
        return self._spinner

    def text(self, delta: str) -> None:
        """Live Markdown; finished paragraphs are printed for good."""
        self._open("text", lambda: Markdown(self._pending, code_theme="ansi_dark"))
        self._pending += delta
        cut = stable_prefix(self._pending)
        if cut:
            done, self._pending = self._pending[:cut], self._pending[cut:]
            self._console.print(Markdown(done, code_theme="ansi_dark"))
            self._console.print()

    def thinking(self, delta: str) -> None:
        """Reasoning, dim, above the answer."""
        self._open("thinking", lambda: Text(self._pending, style="dim italic"))
        self._pending += delta

    # Code --------------------------------------------------------------------------------

    def _code_panel(self) -> Panel:
        lexer = _LEXERS.get(self._language, self._language)
        syntax = Syntax(
            self._code.rstrip("\n") or " ",
            lexer,
            theme="ansi_dark",
            background_color="default",
            line_numbers=True,
            word_wrap=True,
        )
        return Panel(syntax, title=self._language, title_align="left", border_style="blue")

    def code_start(self, language: str) -> None:
        """A code panel that fills in as the model writes."""
        self._close()
        self._code, self._language = "", language
        self._open("code", self._code_panel)

    def code(self, delta: str) -> None:
        """More code in the panel."""
        if self._block != "code":
            self._open("code", self._code_panel)
        self._code += delta

    def code_end(self) -> None:
        """Print the finished panel."""
        if self._block == "code":
            self._close()

    def _ask(self, prompt: str) -> str | None:
        """Print `prompt` (markup) and read a line; `None` at the end of input."""
        self._close()
        self._echo.show()
        self._console.print(prompt, end="")
        if self._stdin is sys.stdin and sys.stdin.isatty():
            try:
                return input()  # with line editing when `readline` is loaded
            except EOFError:
                self._console.print()
                return None
        line = self._stdin.readline()
        answer = line.rstrip("\r\n")
        self._console.print(Text(answer))  # nothing echoed the piped answer
        return answer if line else None

    def confirm(self, language: str) -> bool:
        """Ask y/N under the code; the end of input means no."""
        answer = self._ask(f"[bold]Run this {language} code?[/bold] [dim]\\[y/N][/dim] ") or ""
        approved = answer.strip().lower() in ("y", "yes")
        if not approved:
            self._console.print(Text("not run; the model is told", style="dim"))
        return approved

    # Running code ------------------------------------------------------------------------

    def _status(self) -> RenderableType:
        where = f" · line {self._line}" if self._line else ""
        elapsed = time.monotonic() - self._started
        status = Text(f"running {self._language}{where} · {elapsed:.0f} s · Ctrl-C stops it", style="dim")
        pending = _tail_lines(self._pending, self._console.size.height).removesuffix("\n")
        if not pending:
            return status
        return Group(Text(pending, style=self._style(self._stream)), status)

    @staticmethod
    def _style(stream: str) -> StyleType:
        return "red" if stream == "stderr" else ""

    def _print_output(self, text: str, stream: str) -> None:
        """Print output for good; a final newline is the one `print` adds."""
        if text:
            text = text[:-1] if text.endswith("\n") else text
            self._console.print(Text(text, style=self._style(stream)), soft_wrap=False)

    def console_start(self, language: str) -> None:
        """A rule, then the output as it comes, with a live status line under it."""
        self._close()
        self._language, self._line = language, None
        self._started = self._flushed = time.monotonic()
        self._console.print(Rule("output", style="dim", align="left"))
        self._open("console", self._status)

    def output(self, text: str, stream: str) -> None:
        """Finished lines are printed in batches; the unfinished last line stays live."""
        if self._block != "console":
            self._open("console", self._status)
        if stream != self._stream and self._pending:
            pending, self._pending = self._pending, ""
            self._print_output(pending, self._stream)
        self._stream = stream
        self._pending += text
        now = time.monotonic()
        if now - self._flushed >= _FLUSH_EVERY:
            self._flushed = now
            done, newline, rest = self._pending.rpartition("\n")
            if newline:
                self._pending = rest  # first, so the live region does not show it again
                self._print_output(done + newline, stream)

    def active_line(self, line: int | None) -> None:
        """Shown in the status line."""
        self._line = line

    def image(self, path: Path) -> None:
        """Where the image was saved."""
        if self._block == "console" and self._pending:
            pending, self._pending = self._pending, ""
            self._print_output(pending, self._stream)
        self._console.print(Text.assemble(("image saved: ", "green"), (str(path), "bold")))

    def console_end(self) -> None:
        """The rest of the output, and how long it ran."""
        if self._block == "console":
            self._close()

    # The turn ----------------------------------------------------------------------------

    def finish(self) -> None:
        """Print whatever is still live; typed keys echo again."""
        self._close()
        self._echo.show()

    def notice(self, text: str) -> None:
        """A dim line."""
        self._close()
        self._console.print(Text(text, style="dim"))

    def error(self, text: str) -> None:
        """A red line on stderr."""
        self._close()
        self._errors.print(Text.assemble(("error: ", "bold red"), text))

    def footer(self, text: str) -> None:
        """The summary of the turn, dim."""
        self._close()
        self._console.print(Text(text, style="dim"))

    def read_message(self) -> str | None:
        """The next message, with line editing when available; `None` at the end of input."""
        self._close()
        self._console.print()
        return self._ask("[bold cyan]>[/bold cyan] ")
