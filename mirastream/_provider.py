"""What a provider supplies to the stream drivers.

A provider turns a prompt into a `ProviderCall`: an object that can send the request
(sync or async) and yields the provider's native stream items, plus a fresh IO-free
`Decoder` that turns those items into chunks and aggregates the final response. The
drivers in `mirastream.streams` are the only IO loops; everything provider-specific is
behind these two protocols.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Any, Protocol, TypeVar

from .errors import MirastreamError
from .responses import Response

ChunkT = TypeVar("ChunkT")
ChunkT_co = TypeVar("ChunkT_co", covariant=True)


class Decoder(Protocol[ChunkT_co]):
    """Turns a provider's native stream items into chunks, with no IO of its own."""

    def feed(self, item: Any) -> ChunkT_co | None:
        """Decode one native item; `None` when it carries nothing for the consumer."""
        ...

    def finish(self) -> None:
        """Check that the stream ended properly; raise a typed error if it did not."""
        ...

    @property
    def text(self) -> str:
        """The text of the first choice so far."""
        ...

    def response(self, **timing: Any) -> Response:
        """The aggregated response so far; `timing` fills the timing and status fields."""
        ...


class ProviderCall(Protocol[ChunkT_co]):
    """A request that is fully prepared (validated, client resolved) but not yet sent."""

    provider: str

    def decoder(self) -> Decoder[ChunkT_co]:
        """A new decoder for one response."""
        ...

    def send(self) -> AbstractContextManager[Iterator[Any]]:
        """Send the request; entering the context yields the native items as they arrive."""
        ...

    def send_async(self) -> AbstractAsyncContextManager[AsyncIterator[Any]]:
        """The async twin of `send`."""
        ...

    def convert_error(self, error: Exception) -> MirastreamError | None:
        """The typed mirastream error for an exception of the SDK or its transport."""
        ...

    def abort(self) -> None:
        """Shut the live connection down from any thread, so that a blocked read returns."""
        ...

    def interrupt(self) -> None:
        """Like `abort`, but the call may be sent again (a timed-out attempt before a retry)."""
        ...
