"""The `mirastream` command: a terminal chat whose model can run code, with rich output.

```bash
mirastream chat "What is 34/24? Compute it."
mirastream chat            # interactive
mirastream chat -c         # continue the last conversation
mirastream logs            # the conversations kept
mirastream models          # the models each provider would use
```

`main(argv)` runs the command and returns its exit status: 0 done, 1 the provider failed,
2 a usage or configuration error, 130 interrupted. See `mirastream chat --help`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ._chat import EXIT_INTERRUPTED, ChatSession, describe, exit_status
from ._interrupts import InterruptGuard
from ._options import UsageError, parse_options
from ._render import make_renderer

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run `mirastream` with `argv` (default: the process's arguments); return the exit status."""
    try:
        options = parse_options(sys.argv[1:] if argv is None else argv)
    except UsageError as error:
        return error.code
    if options.command != "chat":
        from ._listing import show_logs, show_models

        if options.command == "logs":
            return show_logs(sys.stdout, sys.stderr, options.count)
        return show_models(sys.stdout)
    renderer, note = make_renderer(options)
    if note is not None:
        renderer.notice(note)
    with InterruptGuard() as guard:
        session: ChatSession | None = None
        try:
            session = ChatSession(options, renderer, guard)
            return session.run()
        except KeyboardInterrupt:
            guard.disarm()
            renderer.finish()
            renderer.notice("interrupted")
            return EXIT_INTERRUPTED
        except Exception as error:
            from pydantic import ValidationError

            from ..errors import MirastreamError

            if not isinstance(error, (MirastreamError, ValidationError)):
                raise
            renderer.finish()
            renderer.error(describe(error, options))
            return exit_status(error)
        finally:
            if session is not None:
                session.close()
            renderer.finish()  # the terminal echoes again, whatever happened
