"""Jupyter iopub messages of one execution, turned into execution events (IO-free).

`JupyterDecoder(msg_id)` takes every iopub message (a dict, as `jupyter_client` returns
it) and keeps those whose parent is the execution's `execute_request`:

- `stream` becomes `Output` on its stream;
- `error` becomes `Output("stderr", traceback)`, ANSI colours removed, and the execution's
  error `"Name: value"`;
- `display_data`, `update_display_data` and `execute_result` become an `Image` for PNG,
  JPEG or SVG data, else `Output("stdout", text/plain + "\\n")`; the private active-line
  MIME type becomes `ActiveLine` and is never shown as output;
- `status: idle` ends the execution (`done`); `finish()` then gives `ActiveLine(None)` if
  lines were reported.

`feed_reply()` takes the `execute_reply` from the shell channel, which also carries the
error when the iopub `error` message was lost.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal, cast

from ._kernel_bootstrap import ACTIVE_LINE_MIME
from .events import ActiveLine, ExecutionEvent, Image, ImageMime, Output

IMAGE_MIMES: tuple[ImageMime, ...] = ("image/png", "image/jpeg", "image/svg+xml")

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def strip_ansi(text: str) -> str:
    """`text` without ANSI escape sequences (colours, cursor moves, hyperlinks)."""
    return _ANSI.sub("", text)


def parent_id(message: Mapping[str, Any]) -> str | None:
    """The `msg_id` of the request a message answers."""
    parent = message.get("parent_header") or {}
    value = parent.get("msg_id")
    return value if isinstance(value, str) else None


def message_type(message: Mapping[str, Any]) -> str:
    """The type of a Jupyter message (`"stream"`, `"status"`, ...)."""
    value = message.get("msg_type") or (message.get("header") or {}).get("msg_type")
    return value if isinstance(value, str) else ""


def _text(value: object) -> str:
    # Multi-line MIME data may come as a list of lines (nbformat style).
    if isinstance(value, list):
        return "".join(str(part) for part in value)
    return value if isinstance(value, str) else str(value)


class JupyterDecoder:
    """Decodes the iopub messages of one execution (the `execute_request` `msg_id`)."""

    __slots__ = ("_line", "_lines_reported", "done", "error", "msg_id", "replied")

    def __init__(self, msg_id: str) -> None:
        self.msg_id = msg_id
        self.done = False
        self.replied = False
        self.error: str | None = None
        self._lines_reported = False
        self._line: int | None = None

    @property
    def status(self) -> Literal["ok", "error"]:
        """`"error"` if the code raised, else `"ok"`."""
        return "error" if self.error is not None else "ok"

    def feed(self, message: Mapping[str, Any]) -> list[ExecutionEvent]:
        """The events for one iopub message (none for other executions' messages)."""
        if self.done or parent_id(message) != self.msg_id:
            return []
        kind = message_type(message)
        content: Mapping[str, Any] = message.get("content") or {}
        if kind == "stream":
            text = _text(content.get("text", ""))
            stream: Literal["stdout", "stderr"] = "stderr" if content.get("name") == "stderr" else "stdout"
            return [Output(stream, text)] if text else []
        if kind == "error":
            return self._error(content)
        if kind in ("display_data", "update_display_data", "execute_result"):
            return self._display(content.get("data") or {})
        if kind == "status" and content.get("execution_state") == "idle":
            self.done = True
        return []

    def feed_reply(self, message: Mapping[str, Any]) -> None:
        """Take the `execute_reply` (shell channel) of this execution, if `message` is it."""
        if parent_id(message) != self.msg_id or message_type(message) != "execute_reply":
            return
        self.replied = True
        content: Mapping[str, Any] = message.get("content") or {}
        if content.get("status") == "error" and self.error is None:
            self.error = _error_text(content)

    def finish(self) -> list[ExecutionEvent]:
        """The closing events, once the execution has ended (or been stopped)."""
        return [ActiveLine(None)] if self._lines_reported else []

    def _error(self, content: Mapping[str, Any]) -> list[ExecutionEvent]:
        self.error = _error_text(content)
        traceback = strip_ansi("\n".join(_text(line) for line in content.get("traceback") or ()))
        return [Output("stderr", (traceback or self.error) + "\n")]

    def _display(self, data: Mapping[str, Any]) -> list[ExecutionEvent]:
        if ACTIVE_LINE_MIME in data:
            line = _active_line(data[ACTIVE_LINE_MIME])
            if self._lines_reported and line == self._line:
                return []  # the tracer and the sampler may both report a line
            self._lines_reported = True
            self._line = line
            return [ActiveLine(line)]
        for mime in IMAGE_MIMES:
            if mime in data:
                value = _text(data[mime])
                return [Image(mime, value if mime == "image/svg+xml" else "".join(value.split()))]
        if "text/plain" in data:
            return [Output("stdout", _text(data["text/plain"]) + "\n")]
        return []


def _error_text(content: Mapping[str, Any]) -> str:
    name = str(content.get("ename") or "Error")
    value = str(content.get("evalue") or "")
    return f"{name}: {value}" if value else name


def _active_line(payload: object) -> int | None:
    if isinstance(payload, str):
        payload = json.loads(payload)
    line = cast("Mapping[str, Any]", payload).get("line") if isinstance(payload, Mapping) else None
    return line if isinstance(line, int) and not isinstance(line, bool) else None
