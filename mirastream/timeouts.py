"""How long a stream may wait: to connect, for its first chunk, and between chunks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx2

__all__ = ["Timeouts"]


@dataclass(frozen=True)
class Timeouts:
    """Time limits of one stream, in seconds (`None`: no limit).

    Attributes:
        connect: to open the connection.
        first_chunk: from sending the request to the first chunk that carries text,
            thinking or a tool call (models that think before answering may need minutes);
            enforced exactly by sync and async streams, keep-alives or not.
        idle: the longest silence allowed on the connection once the request is sent,
            headers and every chunk after included (keep-alive events such as Anthropic's
            `ping` count as activity).

    A timeout before the first chunk is retried like a connection error; after it, it ends
    the stream with `APITimeoutError`, which carries the partial response.
    """

    connect: float | None = 10.0
    first_chunk: float | None = 300.0
    idle: float | None = 120.0

    def __post_init__(self) -> None:
        for name in ("connect", "first_chunk", "idle"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"Timeouts.{name} must be positive or None, not {value}")

    def for_httpx(self) -> httpx2.Timeout:
        """The `httpx2.Timeout` a request should use (connect and read limits)."""
        import httpx2

        # Waiting for a free pooled connection is bounded like the wait for the first chunk,
        # so a burst of streams beyond the pool's size queues instead of failing at `connect`.
        return httpx2.Timeout(connect=self.connect, read=self.idle, write=self.idle, pool=self.first_chunk)
