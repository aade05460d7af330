"""The errors of the local model and its server."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigurationError, MirastreamError


class LocalModelError(ConfigurationError):
    """The local model file cannot be prepared (not found, unreadable, no disk space, ...)."""


class ChecksumMismatchError(LocalModelError):
    """A model file's SHA-256 is not the expected one; the file was not loaded.

    Attributes:
        path: the file that was checked (an assembled copy has already been removed).
        expected: the SHA-256 the model spec names.
        actual: the SHA-256 of the file's content.
    """

    def __init__(self, message: str, *, path: Path, expected: str, actual: str) -> None:
        super().__init__(message)
        self.path = path
        self.expected = expected
        self.actual = actual


class LocalServerError(MirastreamError):
    """The local llama.cpp server could not start (or stopped answering while starting)."""
