r"""The shell's output pieces of one execution, turned into events (IO-free).

The session runs code by writing one control line to the shell's stdin (`run_line()`): it
sources the code file with stdin from `/dev/null`, then prints an end marker with the
exit status to stdout and an end marker to stderr. Because each stream ends with its own
marker, both are known complete when the markers have arrived, whatever the code left
unterminated.

A marker is `\x1emirastream-<nonce>\x1e`, with a random nonce per session, and on stdout is
followed by the status and a newline. Code cannot end an execution by accident: it would
have to print the nonce. `ShellDecoder.feed()` takes the raw byte pieces of either stream
as they are read and returns `Output` events, holding back only a trailing piece that
could be the start of a marker; text is decoded as UTF-8 (invalid bytes are replaced),
also when a character is split between pieces.
"""

from __future__ import annotations

import codecs
import re
import secrets
import shlex
from pathlib import Path
from typing import Literal

from .events import ExecutionEvent, Output

StreamName = Literal["stdout", "stderr"]

_STATUS = re.compile(rb"(\d{1,3})\n")
_STATUS_MAX = 4  # up to three digits and the newline


def new_marker() -> bytes:
    """A fresh end marker (one per session)."""
    return b"\x1emirastream-" + secrets.token_hex(16).encode() + b"\x1e"


def run_line(marker: bytes, code_file: Path | None, *, bash: bool = True) -> bytes:
    r"""The control line that runs `code_file` (or nothing) and prints the end markers.

    The code is `source`d, so `cd`, variables and functions persist, its syntax errors
    (an unterminated quote or here-document) end that file only, and `return` ends it.
    Its stdin is `/dev/null`: a `read` in the code never swallows the control lines. A
    `SIGINT` trap, set again before each run (bash forgets a trap that fired during a
    wait), makes an interrupt end the sourced file with status 130 instead of ending a
    non-interactive shell, as bash does by default.
    """
    escaped = "".join(f"\\{byte:03o}" for byte in marker)
    builtin = "builtin " if bash else ""
    parts = []
    if code_file is not None:
        # `command .`: in a POSIX sh a syntax error in a `.` file would end the shell.
        source = "builtin source" if bash else "command ."
        parts.append(f"{builtin}trap 'return 130 2>/dev/null' INT")
        parts.append(f"{source} {shlex.quote(str(code_file))} </dev/null")
    parts.append(f"{builtin}printf '{escaped}%d\\n' \"$?\"")
    parts.append(f"{builtin}printf '{escaped}' >&2")
    return ("; ".join(parts) + "\n").encode()


class _StreamState:
    __slots__ = ("decoder", "ended", "pending")

    def __init__(self) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.pending = b""
        self.ended = False


class ShellDecoder:
    """Decodes one execution's stdout and stderr pieces up to the end markers."""

    __slots__ = ("_marker", "_status_bytes", "_streams", "exit_status")

    def __init__(self, marker: bytes) -> None:
        self._marker = marker
        self._streams: dict[StreamName, _StreamState] = {"stdout": _StreamState(), "stderr": _StreamState()}
        self._status_bytes: bytes | None = None
        self.exit_status: int | None = None

    @property
    def done(self) -> bool:
        """Whether both markers (and the exit status) have arrived."""
        return self.exit_status is not None and self._streams["stderr"].ended

    def feed(self, stream: StreamName, data: bytes) -> list[ExecutionEvent]:
        """The events for a piece of `stream` (bytes after its marker are output too)."""
        state = self._streams[stream]
        if state.ended:
            if stream == "stdout" and self._status_bytes is not None:
                data = self._read_status(data)
            return self._decode(stream, data)
        data = state.pending + data
        index = data.find(self._marker)
        if index < 0:
            keep = _partial_marker_length(data, self._marker)
            state.pending = data[len(data) - keep :] if keep else b""
            return self._decode(stream, data[: len(data) - keep])
        state.pending = b""
        state.ended = True
        events = self._decode(stream, data[:index], final=True)
        rest = data[index + len(self._marker) :]
        if stream == "stdout":
            self._status_bytes = b""
            rest = self._read_status(rest)
        return events + self._decode(stream, rest)

    def finish(self) -> list[ExecutionEvent]:
        """Whatever is held back, once the shell has gone (no marker will come)."""
        events: list[ExecutionEvent] = []
        for stream, state in self._streams.items():
            events += self._decode(stream, state.pending, final=True)
            state.pending = b""
        return events

    def _read_status(self, data: bytes) -> bytes:
        assert self._status_bytes is not None
        buffer = self._status_bytes + data
        match = _STATUS.match(buffer)
        if match:
            self.exit_status = int(match.group(1))
            self._status_bytes = None
            return buffer[match.end() :]
        if not buffer or (len(buffer) < _STATUS_MAX and buffer.isdigit()):
            self._status_bytes = buffer
            return b""
        # Not a status after all (cannot happen with our control line): treat as output.
        self.exit_status = 255
        self._status_bytes = None
        return buffer

    def _decode(self, stream: StreamName, data: bytes, *, final: bool = False) -> list[ExecutionEvent]:
        text = self._streams[stream].decoder.decode(data, final=final)
        return [Output(stream, text)] if text else []


def _partial_marker_length(data: bytes, marker: bytes) -> int:
    """The length of the longest end of `data` that begins `marker`."""
    start = data.find(marker[:1], max(0, len(data) - len(marker) + 1))
    while start >= 0:
        if marker.startswith(data[start:]):
            return len(data) - start
        start = data.find(marker[:1], start + 1)
    return 0
