"""mirastream: one streaming interface for every major LLM provider, in prompt classes.

Importing `mirastream` loads no provider SDK; each provider package
(`mirastream.openai`, ...) loads its SDK on its first call. The names below load on first
use too, so `import mirastream` alone costs next to nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_names
from ._version import __version__

if TYPE_CHECKING:
    from . import errors
    from .chunks import ResponseChunk, ToolCallDelta
    from .events import StreamItem
    from .messages import Message, ToolCall
    from .params import BaseCallParams
    from .prompts import BasePrompt
    from .responses import Choice, FinishReason, Response, Usage
    from .streams import AsyncStream, Stream
    from .timeouts import Timeouts

__all__ = [
    "AsyncStream",
    "BaseCallParams",
    "BasePrompt",
    "Choice",
    "FinishReason",
    "Message",
    "Response",
    "ResponseChunk",
    "Stream",
    "StreamItem",
    "Timeouts",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
    "__version__",
    "errors",
]

_HOMES = {
    "AsyncStream": "streams",
    "BaseCallParams": "params",
    "BasePrompt": "prompts",
    "Choice": "responses",
    "FinishReason": "responses",
    "Message": "messages",
    "Response": "responses",
    "ResponseChunk": "chunks",
    "Stream": "streams",
    "StreamItem": "events",
    "Timeouts": "timeouts",
    "ToolCall": "messages",
    "ToolCallDelta": "chunks",
    "Usage": "responses",
    "errors": "",
}


__getattr__ = lazy_names(__name__, _HOMES)


def __dir__() -> list[str]:
    return sorted(__all__)
