"""mirastream: one streaming interface for every major LLM provider, in prompt classes.

Importing `mirastream` loads no provider SDK; each provider package
(`mirastream.openai`, ...) loads its SDK on its first call.
"""

from . import errors
from ._version import __version__
from .chunks import ResponseChunk, ToolCallDelta
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
    "Timeouts",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
    "__version__",
    "errors",
]
