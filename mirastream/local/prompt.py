"""`LocalPrompt` and `LocalAnthropicPrompt`: prompt classes that stream from a model on this machine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from ..anthropic.params import AnthropicCallParams
from ..anthropic.prompt import AnthropicPrompt
from ..openai.params import OpenAICallParams
from ..openai.prompt import OpenAIPrompt
from ._server import LocalServer, shared_server

__all__ = ["LocalAnthropicPrompt", "LocalPrompt"]


class _FromServer:
    """A prompt-class attribute read from the class's local server.

    Reading `base_url` (as a stream does when it picks its client) starts the server on
    first use, so the model loads when the first stream opens, not at import.
    """

    def __init__(self, read: Callable[[LocalServer], str | None]) -> None:
        self._read = read

    def __get__(self, instance: object, owner: type[Any] | None = None) -> str | None:
        klass = owner if owner is not None else type(instance)
        server: LocalServer | None = getattr(klass, "local_server", None)
        return self._read(server if server is not None else shared_server())


def _base_url(server: LocalServer) -> str:
    return server.openai_base_url


def _anthropic_base_url(server: LocalServer) -> str:
    return server.anthropic_base_url


def _api_key(server: LocalServer) -> str | None:
    return server.api_key


class LocalPrompt(OpenAIPrompt):
    """A prompt class that streams from the local model, through the OpenAI backend.

    It behaves like `OpenAIPrompt` (same chunks, tools and code interpreter), but needs
    no key and no network: the first stream starts `local_server` (by default the
    process-wide `shared_server()`), which loads the model, and later streams reuse it.

    Class attributes (all optional):

    - `call_params`: an `OpenAICallParams`; the server serves one model, so `model` is
      only a label (default `"local"`).
    - `local_server`: a `LocalServer` of your own (another model, more threads, ...);
      default the shared server, configured from the `MIRASTREAM_LOCAL_*` environment
      variables.
    """

    call_params: ClassVar[OpenAICallParams] = OpenAICallParams(model="local")
    local_server: ClassVar[LocalServer | None] = None
    base_url = _FromServer(_base_url)
    api_key = _FromServer(_api_key)


class LocalAnthropicPrompt(AnthropicPrompt):
    """A prompt class that streams from the local model through the Anthropic backend.

    The same server as `LocalPrompt` also speaks Anthropic's Messages API; this class
    sends its requests there, so Anthropic-shaped chunks and events come from the local
    model. `call_params` is an `AnthropicCallParams` (`model` is only a label, default
    `"local"`); `local_server` works as on `LocalPrompt`.
    """

    call_params: ClassVar[AnthropicCallParams] = AnthropicCallParams(model="local")
    local_server: ClassVar[LocalServer | None] = None
    base_url = _FromServer(_anthropic_base_url)
    api_key = _FromServer(_api_key)
