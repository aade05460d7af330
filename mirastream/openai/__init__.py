"""Streaming from OpenAI and OpenAI-compatible servers.

`OpenAIPrompt` streams from the Chat Completions API, `OpenAIResponsesPrompt` from the
Responses API (its names load on first use). Importing this package does not import the
`openai` SDK; that happens on the first call.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_names
from .chunk import OpenAIResponseChunk
from .params import OpenAICallParams
from .prompt import OpenAIPrompt

if TYPE_CHECKING:
    from .responses_chunk import OpenAIResponsesChunk
    from .responses_params import OpenAIResponsesCallParams
    from .responses_prompt import OpenAIResponsesPrompt

__all__ = [
    "OpenAICallParams",
    "OpenAIPrompt",
    "OpenAIResponseChunk",
    "OpenAIResponsesCallParams",
    "OpenAIResponsesChunk",
    "OpenAIResponsesPrompt",
]

__getattr__ = lazy_names(
    __name__,
    {
        "OpenAIResponsesCallParams": "responses_params",
        "OpenAIResponsesChunk": "responses_chunk",
        "OpenAIResponsesPrompt": "responses_prompt",
    },
)
