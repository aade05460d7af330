"""Prompt classes: a template plus typed fields that fill it."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from functools import cached_property
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from ._template import ParsedTemplate, parse_template, placeholder_value, render
from .errors import TemplateError
from .messages import Message
from .retries import DEFAULT_RETRIES, RetryPolicy
from .timeouts import Timeouts

__all__ = ["BasePrompt"]

# Names the prompt classes themselves use; a field with one of them would hide it.
_RESERVED = frozenset(
    {
        "api_key",
        "api_key_env",
        "async_client",
        "base_url",
        "call_params",
        "client",
        "max_calls_per_turn",
        "max_event_bytes",
        "max_steps",
        "messages",
        "retries",
        "timeouts",
        "prompt_template",
        "request_kwargs",
        "stream",
        "stream_async",
    }
)

_ROLE_MARKERS = {"system": "SYSTEM", "user": "USER", "assistant": "ASSISTANT", "tool": "TOOL"}


def _is_computed(cls: type[BasePrompt], name: str) -> bool:
    """Whether `name` is a property (or cached property) that a template may read."""
    if name in cls.model_computed_fields:
        return True
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return isinstance(klass.__dict__[name], (property, cached_property))
    return False


class BasePrompt(BaseModel):
    """A prompt: a class-level `prompt_template` and the typed fields that fill it.

    Subclass it (or a provider's subclass such as `OpenAIPrompt`), set
    `prompt_template` and declare one field per placeholder:

    ```python
    class Recommender(BasePrompt):
        prompt_template = '''
        SYSTEM: You are a librarian.
        USER: Recommend a {genre} book.
        '''
        genre: str
    ```

    Template rules:

    - A line starting with `SYSTEM:`, `USER:` or `ASSISTANT:` opens a message of that
      role; a template without any marker is a single user message.
    - `MESSAGES: {history}` inserts a list of earlier messages (`Message` objects or
      dicts with `role` and `content`).
    - `{field}`, `{field.attr}`, `{field[0]}` and format specs such as `{price:.2f}`
      read the instance; list values render one item per line; `{{` and `}}` are literal
      braces. Properties may be used as placeholders too.
    - The template's common indentation is removed, so it can be written as an indented
      triple-quoted string; a marker alone on its line may head a further indented block.

    A placeholder that names no field is a `TemplateError` when the class is defined;
    a missing or ill-typed value is a pydantic `ValidationError` when it is constructed.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, defer_build=True)

    prompt_template: ClassVar[str]
    max_steps: ClassVar[int] = 10
    """With tools: the most model turns one stream may take (`MaxStepsReached` beyond)."""
    max_calls_per_turn: ClassVar[int] = 10
    """With tools: the most tool calls run per model turn; the rest are answered "not run".

    Whatever the limit, a call that repeats an earlier call of the same turn (same tool, same
    arguments) is not run again, and a turn cut off by `max_tokens` (finish reason `length`)
    runs none of its calls: the stream ends with that turn."""
    max_event_bytes: ClassVar[int] = 16 * 1024 * 1024
    """The largest server-sent event a stream accepts (16 MiB); a larger one is a
    `MalformedStreamError`, so a broken or hostile server cannot exhaust memory."""
    retries: ClassVar[RetryPolicy] = DEFAULT_RETRIES
    """How to retry a request that fails before its first chunk (see `mirastream.retries`)."""
    timeouts: ClassVar[Timeouts] = Timeouts()
    """The time limits of a stream: connect, first chunk, idle (see `Timeouts`)."""
    _parsed_template: ClassVar[ParsedTemplate | None] = None

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        clashes = sorted(name for name in cls.model_fields if name in _RESERVED)
        if clashes:
            raise TemplateError(
                f"{cls.__name__} declares {', '.join(clashes)}, which "
                f"{'is a name' if len(clashes) == 1 else 'are names'} mirastream's prompt classes use "
                f"(reserved: {', '.join(sorted(_RESERVED))}); rename the field, e.g. `history`"
            )
        template = getattr(cls, "prompt_template", None)
        if template is None:
            cls._parsed_template = None
            return
        if not isinstance(template, str):
            raise TemplateError(
                f"{cls.__name__}.prompt_template must be a str, not {type(template).__name__}"
            )
        try:
            parsed = parse_template(template)
        except TemplateError as error:
            raise TemplateError(f"{cls.__name__}.prompt_template: {error}") from None
        unknown = sorted(
            name
            for name in parsed.field_names
            if name not in cls.model_fields and not _is_computed(cls, name)
        )
        if unknown:
            known = sorted(cls.model_fields)
            hints = []
            for name in unknown:
                close = difflib.get_close_matches(name, known, n=1)
                hints.append(f"{{{name}}}" + (f" (did you mean {{{close[0]}}}?)" if close else ""))
            raise TemplateError(
                f"{cls.__name__}.prompt_template uses {', '.join(hints)}, which "
                f"{'is not a field' if len(unknown) == 1 else 'are not fields'} of {cls.__name__}; "
                f"declare {' and '.join(f'`{name}: <type>`' for name in unknown)} on the class "
                f"(declared fields: {', '.join(known) or 'none'})"
            )
        cls._parsed_template = parsed

    @classmethod
    def _template(cls) -> ParsedTemplate:
        parsed = cls._parsed_template
        if parsed is None:
            raise TemplateError(f"{cls.__name__} has no prompt_template; set one on the class")
        return parsed

    def messages(self) -> list[Message]:
        """The rendered prompt as a provider-neutral list of messages."""
        messages: list[Message] = []
        for section in self._template().sections:
            if section.role == "messages":
                messages.extend(self._history(section.text))
            else:
                messages.append(Message(role=section.role, content=render(section.text, self)))
        return messages

    def _history(self, text: str) -> list[Message]:
        value = placeholder_value(text, self)
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise TemplateError(
                f"{type(self).__name__}: the MESSAGES: placeholder {text} must hold a list of "
                f"messages, not {type(value).__name__}"
            )
        history: list[Message] = []
        for position, item in enumerate(value):
            if isinstance(item, Message):
                history.append(item)
                continue
            try:
                history.append(Message.model_validate(item))
            except ValidationError as error:
                raise TemplateError(
                    f"{type(self).__name__}: item {position} of {text} is not a message "
                    f"(expected a Message or a dict with 'role' and 'content'): {error}"
                ) from None
        return history

    def __str__(self) -> str:
        """The rendered template text, role markers included."""
        parsed = self._template()
        if not parsed.has_role_markers:
            return render(parsed.sections[0].text, self)
        return "\n".join(f"{_ROLE_MARKERS[message.role]}: {message.content}" for message in self.messages())
