"""Streaming from Anthropic's Messages API and servers that speak it.

Importing this package does not import the `anthropic` SDK; that happens on the first call.
"""

from .chunk import AnthropicResponseChunk
from .params import AnthropicCallParams
from .prompt import AnthropicPrompt

__all__ = ["AnthropicCallParams", "AnthropicPrompt", "AnthropicResponseChunk"]
