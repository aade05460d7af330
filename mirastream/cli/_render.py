"""What the chat shows, as one interface with two implementations: rich (terminals) and plain (pipes)."""

from __future__ import annotations

import base64
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

if TYPE_CHECKING:
    from ._options import ChatOptions


class Renderer(Protocol):
    """Shows a chat as it streams; the chat loop calls these in the order things happen."""

    def notice(self, text: str) -> None:
        """A line of information (dim in a terminal; on stderr in plain mode)."""

    def error(self, text: str) -> None:
        """An error message (on stderr)."""

    def waiting(self) -> None:
        """Nothing streams for now: the model is reading (a spinner in a terminal)."""

    def text(self, delta: str) -> None:
        """More of the model's answer (Markdown)."""

    def thinking(self, delta: str) -> None:
        """More of the model's visible reasoning."""

    def code_start(self, language: str) -> None:
        """The model started writing code."""

    def code(self, delta: str) -> None:
        """More of the code the model is writing."""

    def code_end(self) -> None:
        """The model finished writing the code."""

    def confirm(self, language: str) -> bool:
        """Ask whether to run the code just shown; `False` at the end of input."""

    def console_start(self, language: str) -> None:
        """The code started running."""

    def output(self, text: str, stream: str) -> None:
        """Output of the running code (`stream` is `stdout` or `stderr`)."""

    def active_line(self, line: int | None) -> None:
        """The line of the code being run (`None`: finished)."""

    def image(self, path: Path) -> None:
        """An image the code displayed was saved to `path`."""

    def console_end(self) -> None:
        """The code finished running."""

    def finish(self) -> None:
        """End of a turn (or an interruption): close anything still live."""

    def footer(self, text: str) -> None:
        """The summary line of a turn (model, usage, finish reason)."""

    def read_message(self) -> str | None:
        """The user's next message in interactive mode; `None` at the end of input."""


_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/svg+xml": "svg"}


class ImageSaver:
    """Saves images the code displays as files, in `directory` (made when the first image comes).

    Without a directory, a new temporary folder is used; it is kept, so the files stay.
    """

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._made = False
        self._count = 0

    def save(self, mime: str, data: str) -> Path:
        """Write one image (`data` is base64, or the text of an SVG) and return its path.

        Raises:
            OSError: the file could not be written.
            ValueError: `data` is not valid base64.
        """
        payload = data.encode() if mime == "image/svg+xml" else base64.b64decode(data, validate=True)
        folder = self._folder()
        extension = _EXTENSIONS.get(mime, mime.rpartition("/")[2] or "bin")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        while True:
            self._count += 1
            path = folder / f"image-{stamp}-{self._count}.{extension}"
            try:
                with path.open("xb") as file:
                    file.write(payload)
            except FileExistsError:
                continue
            return path

    def _folder(self) -> Path:
        if not self._made:
            if self.directory is None:
                self.directory = Path(tempfile.mkdtemp(prefix="mirastream-images-"))
            else:
                self.directory.mkdir(parents=True, exist_ok=True)
            self._made = True
        assert self.directory is not None
        return self.directory


def make_renderer(
    options: ChatOptions,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> tuple[Renderer, str | None]:
    """The renderer for this terminal, and a note for the user if rich output is unavailable.

    Rich output (live Markdown, code panels) needs a terminal and the `rich` package
    (`mirastream[chat]`); otherwise, or with `--plain`, the output is plain text that pipes well.
    """
    from ._plain import PlainRenderer

    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    if options.plain:
        return PlainRenderer(stdin, stdout, stderr), None
    try:
        from rich.console import Console
    except ImportError:
        note = None
        if stdout.isatty():
            note = 'plain output: install "mirastream[chat]" for live Markdown and code panels'
        return PlainRenderer(stdin, stdout, stderr), note
    console = Console(file=stdout)
    if not console.is_terminal or console.is_dumb_terminal:
        return PlainRenderer(stdin, stdout, stderr), None
    from ._rich import RichRenderer

    return RichRenderer(console, Console(file=stderr), stdin), None
