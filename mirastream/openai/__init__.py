"""Streaming from OpenAI and OpenAI-compatible servers.

Importing this package does not import the `openai` SDK; that happens on the first call.
"""

from .chunk import OpenAIResponseChunk
from .params import OpenAICallParams
from .prompt import OpenAIPrompt

__all__ = ["OpenAICallParams", "OpenAIPrompt", "OpenAIResponseChunk"]
