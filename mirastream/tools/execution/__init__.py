r"""Run code in a persistent child process: a Python (Jupyter kernel) or a shell session.

```python
from mirastream.tools.execution import Limits, Output, PythonSession

with PythonSession(Limits(timeout=10)) as python:
    for event in python.execute("print('hi')\n34 / 24"):
        if isinstance(event, Output):
            print(event.text, end="")
```

Code never runs in the host interpreter. Each session has one child (an IPython kernel, or
`bash`) in its own process group, with limits (`Limits`), a sanitised environment, and a
temporary working folder by default; on Linux the child runs in a sandbox unless the session
is made with `sandbox=False` (see docs/security.md), and `SandboxUnavailableError` is raised
where none can be built. `execute()` / `aexecute()` stream `Output`,
`ActiveLine`, `Image` events as they happen and end with one `Finished`.

Both sessions are used the same way: from one world at a time, `start`/`execute`/`close`
(sync) or `astart`/`aexecute`/`aclose` (async, within one event loop), and one execution at
a time. `interrupt()`, `alive` and the sync `close()` may be used from any thread (a
`close()` ends a running execution with `"killed"`). Both are context managers (`with`,
`async with`).

Importing this package imports no Jupyter code: `PythonSession` needs the `code` extra
(`jupyter_client`, `ipykernel`) only when it starts.
"""

from typing import TYPE_CHECKING

from ..._lazy import lazy_names
from ._errors import SandboxUnavailableError, SessionStartError
from .events import ActiveLine, ExecutionEvent, Finished, FinishStatus, Image, ImageMime, Output
from .limits import Limits

if TYPE_CHECKING:
    from .python import PythonSession
    from .shell import ShellSession

__all__ = [
    "ActiveLine",
    "ExecutionEvent",
    "FinishStatus",
    "Finished",
    "Image",
    "ImageMime",
    "Limits",
    "Output",
    "PythonSession",
    "SandboxUnavailableError",
    "SessionStartError",
    "ShellSession",
]


# The sessions (and asyncio, subprocess, ...) load on first use, not with the package.
__getattr__ = lazy_names(__name__, {"PythonSession": "python", "ShellSession": "shell"})
