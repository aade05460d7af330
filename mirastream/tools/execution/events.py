"""What one code execution reports while it runs.

An execution yields `Output`, `ActiveLine` and `Image` events as the child produces them, and
always ends with exactly one `Finished`. Match on the classes:

```python
for event in session.execute(code):
    match event:
        case Output(stream, text): ...
        case ActiveLine(line): ...
        case Image(mime, data): ...
        case Finished(status, error, duration): ...
```
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

__all__ = ["ActiveLine", "ExecutionEvent", "FinishStatus", "Finished", "Image", "ImageMime", "Output"]

ImageMime: TypeAlias = Literal["image/png", "image/jpeg", "image/svg+xml"]
FinishStatus: TypeAlias = Literal["ok", "error", "timeout", "interrupted", "killed"]


@dataclass(frozen=True, slots=True)
class Output:
    """Text the code wrote to `stdout` or `stderr` (tracebacks arrive on `stderr`).

    Python's value of a final expression (as in a notebook) arrives as `stdout` text ending
    with a newline. The split into pieces follows how the child flushed; join the texts of
    one stream to get its whole output.
    """

    stream: Literal["stdout", "stderr"]
    text: str


@dataclass(frozen=True, slots=True)
class ActiveLine:
    """The 1-based line of the approved code that is running now; `None` once it has finished.

    Python sessions report lines of the cell's own top-level code (a line that calls a
    function stays active while the function runs), and end with `ActiveLine(None)`. In
    the first 0.1 s every line is reported (repeats in loops at most every 20 ms); after
    that the running line is sampled every 20 ms, so lines quicker than that may be
    skipped. Shell sessions report no lines.
    """

    line: int | None


@dataclass(frozen=True, slots=True)
class Image:
    """An image the code displayed (a Matplotlib figure, `IPython.display.Image`, ...).

    `data` is base64 for `image/png` and `image/jpeg`, and the SVG text for `image/svg+xml`.
    """

    mime: ImageMime
    data: str


@dataclass(frozen=True, slots=True)
class Finished:
    """How the execution ended; always the last event.

    Attributes:
        status: `"ok"`; `"error"` (an exception, or a non-zero shell status); `"timeout"` (it
            ran past `Limits.timeout` and was interrupted, or killed after `Limits.grace`);
            `"interrupted"` (`interrupt()` stopped it); `"killed"` (the child died or had to
            be killed: the next execution starts a fresh one, and its state is lost).
        error: what went wrong, e.g. `"ZeroDivisionError: division by zero"` or
            `"exit status 2"`; `None` when the status is `"ok"`.
        duration: wall-clock seconds from sending the code to the end.
    """

    status: FinishStatus
    error: str | None
    duration: float


ExecutionEvent: TypeAlias = Output | ActiveLine | Image | Finished
"""Any event of an execution."""
