"""A model that runs on this machine, with no key and no network: `pip install "mirastream[local]"`.

`LocalPrompt` streams through the OpenAI backend from a llama.cpp server that mirastream
starts in this process on 127.0.0.1 when the first stream opens (`LocalAnthropicPrompt`
uses the same server's Anthropic Messages API). The default model, Qwen2.5-Coder-1.5B-Instruct,
comes from registry packages; it is assembled into the cache and checked once.

Importing this package loads neither llama.cpp nor any SDK.
"""

from ._cache import cache_dir
from ._errors import ChecksumMismatchError, LocalModelError, LocalServerError
from ._model import CODER_0_5B, CODER_1_5B, DEFAULT_MODEL, JSON_FENCE_TEMPLATE, MODELS, LocalModel
from ._server import LocalServer, check_installed, default_threads, shared_server
from .prompt import LocalAnthropicPrompt, LocalPrompt

__all__ = [
    "CODER_0_5B",
    "CODER_1_5B",
    "DEFAULT_MODEL",
    "JSON_FENCE_TEMPLATE",
    "MODELS",
    "ChecksumMismatchError",
    "LocalAnthropicPrompt",
    "LocalModel",
    "LocalModelError",
    "LocalPrompt",
    "LocalServer",
    "LocalServerError",
    "cache_dir",
    "check_installed",
    "default_threads",
    "shared_server",
]
