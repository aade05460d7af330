"""The test suite's loopback server: `mirastream.testing`'s replay server, with transcript names.

Tests queue replies; each request takes the next one and is recorded, so a test can assert
both what the SDK received and what it sent. Transcripts live in ``tests/transcripts``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mirastream.testing import RecordedRequest as Recorded
from mirastream.testing import ReplayServer as LoopbackServer
from mirastream.testing import Reply as _Reply

__all__ = ["TRANSCRIPTS", "LoopbackServer", "Recorded", "Reply", "transcript"]

TRANSCRIPTS = Path(__file__).parent / "transcripts"


def transcript(name: str) -> bytes:
    """The bytes of ``tests/transcripts/<name>``."""
    return (TRANSCRIPTS / name).read_bytes()


class Reply(_Reply):
    """A replay server reply that can name a transcript of this suite."""

    @classmethod
    def sse(cls, name: str, **options: Any) -> Reply:
        """A stream replayed from ``tests/transcripts/<name>``."""
        reply = cls.transcript(TRANSCRIPTS / name, **options)
        assert isinstance(reply, Reply)
        return reply
