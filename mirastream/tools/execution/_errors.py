"""Errors of the execution sessions (re-exported by the package)."""

from __future__ import annotations

from ...errors import MirastreamError


class SessionStartError(MirastreamError, RuntimeError):
    """The session's child (a Jupyter kernel, a shell) could not be started.

    The message says why, with the end of the child's own error output when there is one.
    The code's own failures never raise: they end the execution with a `Finished` event.
    """


class SandboxUnavailableError(SessionStartError):
    """No sandbox for model-written code can be built on this machine.

    Raised when a sandboxed session or `CodeInterpreter` is made where the sandbox cannot
    run (not Linux, no `bwrap`, user namespaces disabled); the message says why. Code is
    never run uncontained instead: pass `sandbox=False` to accept that explicitly.
    """
