"""Streaming from Google's Gemini API.

`GeminiPrompt` uses the `google-genai` SDK (the recommended client, extra `gemini`);
`GeminiLegacyPrompt` the deprecated `google-generativeai` package (extra
`gemini-legacy`). Importing this package imports neither SDK; that happens on the first
call.
"""

from .chunk import GeminiResponseChunk
from .legacy import GeminiLegacyPrompt, GeminiLegacyResponseChunk
from .params import GeminiCallParams
from .prompt import GeminiPrompt

__all__ = [
    "GeminiCallParams",
    "GeminiLegacyPrompt",
    "GeminiLegacyResponseChunk",
    "GeminiPrompt",
    "GeminiResponseChunk",
]
