"""Function tools: Python functions and pydantic models the model can call.

`FunctionTool.from_function` reads a function's signature and docstring into a JSON schema;
`FunctionTool.from_model` uses a pydantic model's schema. Either way `parameters` is a plain,
fully inlined JSON schema (no `$ref`, `$defs` or `title`), which every provider accepts.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Annotated, Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.fields import FieldInfo

from ..errors import ConfigurationError
from ._protocol import ToolArgumentsError, ToolOutput

if TYPE_CHECKING:
    from ..messages import ToolCall

__all__ = ["FunctionTool", "ToolArgumentsError", "as_tool", "format_result"]

_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_SECTION = re.compile(
    r"(Args|Arguments|Parameters|Params|Returns?|Yields?|Raises|Examples?|Notes?|Attributes|"
    r"See Also|Warnings?|References|Todo):\s*"
)
_ARGS_SECTION = re.compile(r"(Args|Arguments|Parameters|Params):\s*")
# `name (type): text` or `name: text`; the type may hold one level of parentheses.
_GOOGLE_ARG = re.compile(r"(\w+)\s*(?:\((?:[^()]|\([^()]*\))*\))?\s*:\s*(.*)")
_REST_PARAM = re.compile(r":(?:param|parameter|arg|argument|key|keyword)\s+(?:[^:]*\s)?(\w+)\s*:\s*(.*)")
# Keys whose value maps names to schemas, and keys whose value is one schema or a list of them.
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})
_SUBSCHEMAS = frozenset(
    {
        "items",
        "additionalProperties",
        "not",
        "contains",
        "propertyNames",
        "if",
        "then",
        "else",
        "anyOf",
        "oneOf",
        "allOf",
        "prefixItems",
    }
)


class FunctionTool:
    """A tool the model can call, made from a Python function (sync or async) or a pydantic model.

    Build one with `from_function` or `from_model` (or `as_tool`, which takes either). The
    model's arguments go through `validate`, then `call` or `acall`:

    ```python
    def get_weather(city: str, unit: Literal["C", "F"] = "C") -> str:
        '''Get the current weather in `city`.'''

    tool = FunctionTool.from_function(get_weather)
    result = tool.call(tool.validate({"city": "Paris"}))
    ```

    Attributes:
        name: the name the model calls the tool by.
        description: what the tool does, for the model (may be empty).
        parameters: the JSON schema of the arguments (`"type": "object"`), fully inlined:
            no `$ref`/`$defs`, no `title` keys and no top-level `description`. Extra
            arguments are ignored unless the model class forbids them.
        arguments_model: the pydantic model that validates the arguments.
    """

    __slots__ = (
        "_bindings",
        "_function",
        "_is_async",
        "arguments_model",
        "description",
        "name",
        "parameters",
    )

    def __init__(
        self,
        *,
        name: str,
        description: str,
        arguments_model: type[BaseModel],
        function: Callable[..., Any] | None = None,
    ) -> None:
        """Prefer `from_function` and `from_model`.

        Args:
            name: the tool's name, matching `^[a-zA-Z0-9_-]{1,64}$`.
            description: what the tool does.
            arguments_model: validates the arguments; for a function, its fields are the
                function's parameters, in the same order.
            function: the function to call with the fields, or `None` for a tool whose
                result is the validated model itself.

        Raises:
            ConfigurationError: the name is invalid or the schema cannot be inlined.
        """
        if not _NAME.fullmatch(name):
            raise ConfigurationError(
                f"invalid tool name {name!r}: use 1 to 64 letters, digits, '_' or '-' "
                "(pass `name=` to choose another)"
            )
        self.name = name
        self.description = description
        self.arguments_model = arguments_model
        self.parameters = _parameters_schema(arguments_model)
        self._function = function
        self._is_async = function is not None and _is_async_callable(function)
        self._bindings = _bindings(function, arguments_model) if function is not None else ()

    @classmethod
    def from_function(
        cls, fn: Callable[..., Any], *, name: str | None = None, description: str | None = None
    ) -> FunctionTool:
        """A tool that calls `fn` (a function, coroutine function, method or other callable).

        The parameters come from the signature: a parameter without a default is required,
        one without an annotation takes any JSON value. Each parameter's description comes
        from `Annotated[..., Field(description=...)]` (or a `Field(...)` default) or else
        from the docstring's Google-style `Args:` section or reST `:param name:` lines.

        Args:
            fn: the callable.
            name: the tool's name; by default the function's `__name__` (a callable
                object's class name).
            description: the tool's description; by default the first paragraph of the
                docstring.

        Raises:
            ConfigurationError: `fn` takes `*args` or `**kwargs`, its signature or
                annotations cannot be read, or its name is not a valid tool name (a
                lambda's, say).
        """
        target = fn
        while isinstance(target, functools.partial):
            target = target.func
        # A callable object is named after its class.
        tool_name = name if name is not None else getattr(target, "__name__", type(target).__name__)
        try:
            signature = inspect.signature(fn, eval_str=True)
        except (NameError, ValueError) as error:  # an unknown name in an annotation; a builtin
            raise ConfigurationError(
                f"cannot read the signature of {tool_name}: {error} (the names its annotations "
                "use must be defined at module level)"
            ) from None
        summary, documented = _parse_docstring(inspect.getdoc(target) or "")
        fields: dict[str, Any] = {}
        for index, parameter in enumerate(signature.parameters.values()):
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                star = "*" if parameter.kind == parameter.VAR_POSITIONAL else "**"
                raise ConfigurationError(
                    f"{tool_name} takes {star}{parameter.name}; a tool needs named parameters only "
                    "(the model can only send named arguments)"
                )
            annotation = Any if parameter.annotation is parameter.empty else parameter.annotation
            default = ... if parameter.default is parameter.empty else parameter.default
            doc = documented.get(parameter.name)
            if doc and not _has_description(annotation, default):
                annotation = Annotated[annotation, Field(description=doc)]
            if parameter.name.startswith("_") or hasattr(BaseModel, parameter.name):
                # Keep pydantic's own names free; the schema still says `parameter.name`.
                annotation = Annotated[annotation, Field(alias=parameter.name)]
                fields[f"p{index}_{parameter.name.lstrip('_')}"] = (annotation, default)
            else:
                fields[parameter.name] = (annotation, default)
        model = create_model(
            f"{tool_name}_arguments",
            __config__=ConfigDict(protected_namespaces=()),
            __module__=getattr(target, "__module__", None) or __name__,
            **fields,
        )
        return cls(
            name=tool_name,
            description=summary if description is None else description,
            arguments_model=model,
            function=fn,
        )

    @classmethod
    def from_model(
        cls, model: type[BaseModel], *, name: str | None = None, description: str | None = None
    ) -> FunctionTool:
        """A tool whose arguments are `model`; calling it returns the validated instance.

        Use it to get structured data from the model.

        Args:
            model: the pydantic model.
            name: the tool's name; by default the class name as it is (`WeatherReport`).
            description: the tool's description; by default the first paragraph of the
                class docstring.

        Raises:
            ConfigurationError: the name is invalid (a generic model's `Model[int]`, say) or
                the schema is recursive.
        """
        summary, _ = _parse_docstring(inspect.cleandoc(model.__doc__ or ""))
        return cls(
            name=model.__name__ if name is None else name,
            description=summary if description is None else description,
            arguments_model=model,
        )

    @property
    def is_async(self) -> bool:
        """Whether the function is a coroutine function (use `acall`)."""
        return self._is_async

    def validate(self, arguments: Mapping[str, Any] | None) -> BaseModel:
        """Check the model's arguments; return them as an instance of `arguments_model`.

        Args:
            arguments: the decoded JSON arguments (`ToolCall.arguments`); `None` means they
                were not a JSON object.

        Raises:
            ToolArgumentsError: the arguments do not fit; its message lists each bad one.
        """
        if arguments is None or not isinstance(arguments, Mapping):
            raise ToolArgumentsError(
                f"the arguments of tool `{self.name}` must be a JSON object with its parameters",
                tool_name=self.name,
            )
        try:
            return self.arguments_model.model_validate(dict(arguments))
        except ValidationError as error:
            errors = error.errors(include_url=False)
            lines = [f"- {_location(e['loc'])}: {e['msg']}{_got(e)}" for e in errors]
            count = f"{len(errors)} invalid argument{'s' if len(errors) != 1 else ''}"
            raise ToolArgumentsError(
                f"{count} for tool `{self.name}`:\n" + "\n".join(lines),
                tool_name=self.name,
                errors=errors,
            ) from error

    def call(self, arguments: BaseModel) -> Any:
        """Run the tool with validated arguments and return its result.

        Exceptions from the function propagate. A pydantic-model tool returns `arguments`.

        Raises:
            TypeError: the function is async (use `acall`, as `stream_async` does), or
                `arguments` is not an instance of `arguments_model`.
        """
        if self._function is None:
            return self._check(arguments)
        result = self._invoke(self._function, self._check(arguments))
        if inspect.iscoroutine(result):  # an async function (the body has not started)
            result.close()
            raise TypeError(
                f"tool `{self.name}` is an async function: run it with `acall()` "
                "(or stream with `stream_async`)"
            )
        return result

    async def acall(self, arguments: BaseModel) -> Any:
        """Run the tool with validated arguments, awaiting async functions.

        A sync function is called directly on the event loop, so it should be quick; make
        a slow, blocking one async (e.g. with `asyncio.to_thread`) to keep the loop free.
        """
        if self._function is None:
            return self._check(arguments)
        result = self._invoke(self._function, self._check(arguments))
        if inspect.isawaitable(result):
            result = await result
        return result

    # The Tool protocol ---------------------------------------------------------------------

    def provider_options(self, provider: str) -> dict[str, Any]:
        """No provider-specific keys."""
        return {}

    def watch(self, call_id: str | None) -> None:
        """Nothing streams while the model writes a function call."""
        return None

    def run(self, call: ToolCall) -> Iterator[ToolOutput]:
        """Validate `call`'s arguments and call the function; its result as text for the model.

        An exception from the function is reported to the model as an error result.
        """
        arguments = self.validate(call.arguments)
        try:
            result = format_result(self.call(arguments))
        except Exception as error:
            yield _failure(error)
            return
        yield ToolOutput(result)

    async def arun(self, call: ToolCall) -> AsyncIterator[ToolOutput]:
        """The async twin of `run`: async functions are awaited."""
        arguments = self.validate(call.arguments)
        try:
            result = format_result(await self.acall(arguments))
        except Exception as error:
            yield _failure(error)
            return
        yield ToolOutput(result)

    def warm(self) -> None:
        """Nothing to start."""
        return None

    def awarm(self) -> None:
        """Nothing to start."""
        return None

    def close(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        kind = "model" if self._function is None else "async function" if self._is_async else "function"
        return f"FunctionTool(name={self.name!r}, {kind})"

    def _check(self, arguments: BaseModel) -> BaseModel:
        if not isinstance(arguments, self.arguments_model):
            raise TypeError(
                f"tool `{self.name}` takes a {self.arguments_model.__name__} instance, not "
                f"{type(arguments).__name__}; pass the result of `validate()`"
            )
        return arguments

    def _invoke(self, function: Callable[..., Any], arguments: BaseModel) -> Any:
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for field_name, parameter, positional in self._bindings:
            value = getattr(arguments, field_name)  # nested models stay model instances
            if positional:
                args.append(value)
            else:
                kwargs[parameter] = value
        return function(*args, **kwargs)


def as_tool(obj: FunctionTool | Callable[..., Any] | type[BaseModel]) -> FunctionTool:
    """`obj` as a `FunctionTool`: a tool as it is, a pydantic model class or a callable converted.

    Raises:
        TypeError: `obj` is none of these.
        ConfigurationError: `obj` cannot be made a tool (see `FunctionTool.from_function`).
    """
    if isinstance(obj, FunctionTool):
        return obj
    if isinstance(obj, type) and issubclass(obj, BaseModel):
        return FunctionTool.from_model(obj)
    if callable(obj):
        return FunctionTool.from_function(obj)
    raise TypeError(
        f"cannot make a tool from {type(obj).__name__}: pass a function or a pydantic model class"
    )


def _failure(error: Exception) -> ToolOutput:
    return ToolOutput(f"The tool raised {type(error).__name__}: {error}", is_error=True)


def format_result(value: Any) -> str:
    """A tool's result as the text sent back to the model.

    A `str` stays as it is; a pydantic model becomes its JSON; dicts, lists, tuples,
    numbers, booleans and `None` become JSON (non-ASCII kept, pydantic models inside them
    dumped, anything else inside them as `str()`); any other value becomes `str(value)`.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    if value is None or isinstance(value, (dict, list, tuple, int, float)):
        return json.dumps(value, ensure_ascii=False, default=_json_default)
    return str(value)


def _json_default(value: Any) -> Any:
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else str(value)


def _is_async_callable(function: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(function):
        return True
    # An object whose `__call__` is a coroutine function.
    return not inspect.isroutine(function) and inspect.iscoroutinefunction(type(function).__call__)


def _bindings(function: Callable[..., Any], model: type[BaseModel]) -> tuple[tuple[str, str, bool], ...]:
    """For each field of `model`: the parameter of `function` it fills, and whether positionally."""
    parameters = list(inspect.signature(function).parameters.values())
    if len(parameters) != len(model.model_fields):
        raise ConfigurationError(
            f"{model.__name__} has {len(model.model_fields)} fields but the function takes "
            f"{len(parameters)} parameters"
        )
    return tuple(
        (field, parameter.name, parameter.kind == parameter.POSITIONAL_ONLY)
        for field, parameter in zip(model.model_fields, parameters, strict=True)
    )


def _has_description(annotation: Any, default: Any) -> bool:
    """Whether the parameter already has a description from `Field(...)`."""
    infos = [default] + (list(get_args(annotation)[1:]) if get_origin(annotation) is Annotated else [])
    return any(isinstance(info, FieldInfo) and info.description for info in infos)


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The first paragraph of a (cleaned) docstring, and its parameter descriptions."""
    lines = doc.splitlines()
    summary: list[str] = []
    for line in lines:
        stripped = line.strip()
        if not stripped or _SECTION.fullmatch(stripped) or stripped.startswith(":"):
            break
        summary.append(stripped)
    params = _google_args(lines)
    for name, parts in _rest_params(lines).items():
        params.setdefault(name, parts)
    descriptions = {name: " ".join(part for part in parts if part) for name, parts in params.items()}
    return " ".join(summary), {name: text for name, text in descriptions.items() if text}


def _google_args(lines: list[str]) -> dict[str, list[str]]:
    """The entries of the `Args:` sections: `name (type): text`, continued on deeper lines."""
    params: dict[str, list[str]] = {}
    section_indent: int | None = None
    entry_indent: int | None = None
    current: list[str] | None = None
    for line in lines:
        stripped = line.strip()
        if not stripped:
            continue
        indent = len(line) - len(line.lstrip())
        if section_indent is None or indent <= section_indent:  # outside a section, or leaving it
            section_indent = indent if _ARGS_SECTION.fullmatch(stripped) else None
            entry_indent = current = None
        elif entry_indent is None or indent <= entry_indent:
            entry_indent = indent
            match = _GOOGLE_ARG.fullmatch(stripped)
            current = None
            if match:
                current = params.setdefault(match.group(1), [])
                current.append(match.group(2))
        elif current is not None:
            current.append(stripped)
    return params


def _rest_params(lines: list[str]) -> dict[str, list[str]]:
    """The `:param name: text` fields, continued on deeper lines."""
    params: dict[str, list[str]] = {}
    current: list[str] | None = None
    field_indent = 0
    for line in lines:
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if stripped.startswith(":"):
            match = _REST_PARAM.fullmatch(stripped)
            current = None
            if match:
                current = params.setdefault(match.group(1), [])
                current.append(match.group(2))
                field_indent = indent
        elif current is not None and stripped and indent > field_indent:
            current.append(stripped)
        else:
            current = None
    return params


def _parameters_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})
    schema.pop("description", None)  # the tool's description says it
    inlined = _inline(schema, definitions, ())
    if inlined.get("type") != "object":
        raise ConfigurationError(
            f"the arguments of a tool must be a JSON object; {model.__name__} describes "
            f"{inlined.get('type') or 'something else'}"
        )
    inlined.setdefault("properties", {})
    return inlined


def _inline(schema: dict[str, Any], definitions: dict[str, Any], seen: tuple[str, ...]) -> dict[str, Any]:
    """`schema` with `$ref`s replaced by their definitions, `title`s and `discriminator`s dropped."""
    reference = schema.get("$ref")
    if isinstance(reference, str):
        name = reference.rsplit("/", 1)[-1]
        if name in seen or name not in definitions:
            raise ConfigurationError(
                f"the tool schema refers to {name} recursively (or to an unknown definition); "
                "tools need schemas that can be written out in full"
            )
        target = _inline(definitions[name], definitions, (*seen, name))
        siblings = _inline({k: v for k, v in schema.items() if k != "$ref"}, definitions, seen)
        return {**target, **siblings}  # the field's own description wins over the model's
    result: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("title", "discriminator"):  # `discriminator` maps to `$defs` that no longer exist
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            result[key] = {
                name: _inline(item, definitions, seen) if isinstance(item, dict) else item
                for name, item in value.items()
            }
        elif key in _SUBSCHEMAS and isinstance(value, dict):
            result[key] = _inline(value, definitions, seen)
        elif key in _SUBSCHEMAS and isinstance(value, list):
            result[key] = [_inline(v, definitions, seen) if isinstance(v, dict) else v for v in value]
        else:
            result[key] = value
    parts = result.get("allOf")
    if isinstance(parts, list) and len(parts) == 1 and isinstance(parts[0], dict):
        # pydantic's `{"allOf": [{"$ref": ...}], "description": ...}`: one plain object.
        del result["allOf"]
        return {**parts[0], **result}
    return result


def _location(loc: tuple[int | str, ...]) -> str:
    if not loc:
        return "(the arguments)"
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return f"`{text}`"


def _got(error: Any) -> str:
    if error["type"] == "missing":
        return ""
    shown = json.dumps(error.get("input"), ensure_ascii=False, default=repr)
    return f" (got {shown[:77] + '...' if len(shown) > 80 else shown})"
