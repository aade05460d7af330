"""Reading a whole stream the same way in every test, sync or async."""

from __future__ import annotations

import asyncio
from typing import Any

from mirastream import Response
from mirastream.errors import MirastreamError

MODES = ["sync", "async"]


def consume(
    prompt: Any,
    mode: str,
    *,
    stop_after: int | None = None,
    catching: tuple[type[Exception], ...] = (MirastreamError,),
    **overrides: Any,
) -> tuple[list[Any], Response, Exception | None]:
    """Read `prompt`'s stream in `mode` ("sync" or "async"): the chunks, the response and the error.

    `overrides` go to `stream()` / `stream_async()`. The stream is read inside its `with`
    block, so it is closed when this returns; with `stop_after` the reader breaks after that
    many chunks. An exception of a `catching` type ends the reading and is returned.
    """
    chunks: list[Any] = []
    if mode == "sync":
        stream = prompt.stream(**overrides)
        try:
            with stream:
                for chunk in stream:
                    chunks.append(chunk)
                    if stop_after is not None and len(chunks) >= stop_after:
                        break
        except catching as error:
            return chunks, stream.response, error
        return chunks, stream.response, None
    assert mode == "async", mode

    async def read() -> tuple[list[Any], Response, Exception | None]:
        async with prompt.stream_async(**overrides) as stream:
            try:
                async for chunk in stream:
                    chunks.append(chunk)
                    if stop_after is not None and len(chunks) >= stop_after:
                        break
            except catching as error:
                return chunks, stream.response, error
        return chunks, stream.response, None

    return asyncio.run(read())
