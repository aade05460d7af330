"""`FunctionTool`: schemas from signatures and models, validation, calls and results."""

from __future__ import annotations

import asyncio
import enum
import functools
import json
from collections.abc import Iterator
from typing import Annotated, Any, Generic, Literal, TypeVar

import pytest
from pydantic import BaseModel, ConfigDict, Field, RootModel

from mirastream.errors import ConfigurationError, MirastreamError
from mirastream.tools.function import FunctionTool, ToolArgumentsError, as_tool, format_result

T = TypeVar("T")


class Unit(enum.Enum):
    CELSIUS = "C"
    FAHRENHEIT = "F"


class Address(BaseModel):
    """A postal address.

    Attributes:
        street: not used for the schema.
    """

    street: str
    city: str = Field(description="The city.")


class Node(BaseModel):
    value: int
    children: list[Node] = []


# pydantic puts a model's whole docstring in its schema.
ADDRESS_DOC = "A postal address.\n\nAttributes:\n    street: not used for the schema."


def get_weather(
    city: str,
    days: int = 3,
    unit: Literal["C", "F"] = "C",
    hours: list[int] | None = None,
    home: Address | None = None,
    note: Annotated[str, Field(description="From the annotation.")] = "",
) -> str:
    """Get the weather forecast
    for a city.

    Second paragraph, not part of the description.

    Args:
        city (str): The city,
            e.g. `Paris`.
        days (int): How many days (1 to 7).
        hours: Which hours of the day.
        note: The docstring loses to `Field`.

    Returns:
        The forecast.
    """
    return f"{city}:{days}:{unit}:{hours}:{home}:{note}"


def walk(schema: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) of every schema object, skipping property names themselves."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            yield key, value
            if key == "properties":
                for sub in value.values():
                    yield from walk(sub)
            elif key not in ("default", "enum", "const", "required"):
                yield from walk(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from walk(item)


# --- schemas from functions -----------------------------------------------------------------


def test_schema_of_a_documented_function() -> None:
    tool = FunctionTool.from_function(get_weather)
    assert tool.name == "get_weather"
    assert tool.description == "Get the weather forecast for a city."
    assert not tool.is_async
    address = {
        "properties": {
            "street": {"type": "string"},
            "city": {"description": "The city.", "type": "string"},
        },
        "required": ["street", "city"],
        "type": "object",
    }
    assert tool.parameters == {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "The city, e.g. `Paris`."},
            "days": {"type": "integer", "default": 3, "description": "How many days (1 to 7)."},
            "unit": {"enum": ["C", "F"], "type": "string", "default": "C"},
            "hours": {
                "anyOf": [{"type": "array", "items": {"type": "integer"}}, {"type": "null"}],
                "default": None,
                "description": "Which hours of the day.",
            },
            "home": {"anyOf": [{**address, "description": ADDRESS_DOC}, {"type": "null"}], "default": None},
            "note": {"type": "string", "default": "", "description": "From the annotation."},
        },
        "required": ["city"],
    }


class Choice(BaseModel):
    unit: Unit
    address: Address


def test_schemas_are_inlined_without_titles() -> None:
    def plan(
        title: str, first: Address, others: list[Address], choice: Choice, unit: Unit = Unit.CELSIUS
    ) -> None:
        """Plan."""

    parameters = FunctionTool.from_function(plan).parameters
    keys = {key for key, _ in walk(parameters)}
    assert not keys & {"$ref", "$defs", "title", "allOf", "definitions"}
    assert "title" in parameters["properties"]  # a parameter may still be called `title`
    assert parameters["properties"]["others"]["items"]["properties"]["city"] == {
        "description": "The city.",
        "type": "string",
    }
    assert parameters["properties"]["unit"] == {"enum": ["C", "F"], "type": "string", "default": "C"}
    assert parameters["properties"]["choice"]["properties"]["unit"] == {"enum": ["C", "F"], "type": "string"}
    assert json.loads(json.dumps(parameters)) == parameters


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: int


class Dog(BaseModel):
    kind: Literal["dog"]
    good: bool


def test_discriminated_unions_lose_their_mapping_to_definitions() -> None:
    def adopt(pet: Annotated[Cat | Dog, Field(discriminator="kind")]) -> None:
        """Adopt."""

    pet = FunctionTool.from_function(adopt).parameters["properties"]["pet"]
    assert "discriminator" not in pet
    assert [option["properties"]["kind"] for option in pet["oneOf"]] == [
        {"const": "cat", "type": "string"},
        {"const": "dog", "type": "string"},
    ]


class OldStyle(BaseModel):
    """Stands in for pydantic versions that wrap a described reference in `allOf`."""

    home: Address

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {
            "$defs": {"Address": {"title": "Address", "type": "object", "properties": {"a": {"title": "A"}}}},
            "title": "OldStyle",
            "type": "object",
            "properties": {"home": {"allOf": [{"$ref": "#/$defs/Address"}], "description": "Home."}},
        }


def test_single_allof_references_become_plain_objects() -> None:
    assert FunctionTool.from_model(OldStyle).parameters["properties"]["home"] == {
        "type": "object",
        "properties": {"a": {}},
        "description": "Home.",
    }


def test_a_description_on_a_nested_model_field_wins_over_its_docstring() -> None:
    def ship(to: Annotated[Address, Field(description="Where to ship.")]) -> None:
        """Ship."""

    schema = FunctionTool.from_function(ship).parameters["properties"]["to"]
    assert schema["description"] == "Where to ship."
    assert schema["required"] == ["street", "city"]


def test_rest_docstrings_and_field_defaults() -> None:
    def search(
        query: str, limit: int = Field(10, description="From the default."), exact: bool = False
    ) -> list[str]:
        """Search the index.

        :param query: What to look for,
            in plain words.
        :param int limit: The docstring loses to `Field`.
        :param exact: Match whole words only.
        :returns: matches.
        """
        return []

    tool = FunctionTool.from_function(search)
    assert tool.description == "Search the index."
    properties = tool.parameters["properties"]
    assert properties["query"]["description"] == "What to look for, in plain words."
    assert properties["limit"] == {"default": 10, "description": "From the default.", "type": "integer"}
    assert properties["exact"]["description"] == "Match whole words only."
    assert tool.parameters["required"] == ["query"]


def test_only_the_args_section_describes_parameters() -> None:
    def f(a: int, b: int, returns: int) -> int:
        """Add.

        Args:
            a: First.

        Returns:
            b: not a parameter description.
            returns: nor this.

        Args:
            b: Second.
        """
        return a + b

    properties = FunctionTool.from_function(f).parameters["properties"]
    assert properties["a"]["description"] == "First."
    assert properties["b"]["description"] == "Second."
    assert "description" not in properties["returns"]


def test_overrides_unannotated_and_undocumented_parameters() -> None:
    def f(x, y=None):  # unannotated on purpose
        return x

    tool = FunctionTool.from_function(f, name="renamed", description="Chosen.")
    assert (tool.name, tool.description) == ("renamed", "Chosen.")
    assert tool.parameters == {
        "type": "object",
        "properties": {"x": {}, "y": {"default": None}},
        "required": ["x"],
    }
    assert FunctionTool.from_function(lambda: 1, name="one", description="").parameters == {
        "type": "object",
        "properties": {},
    }


def test_parameter_names_that_pydantic_reserves_still_work() -> None:
    def fetch(json: str, _private: int = 0, model_config: int = 1, copy: bool = False) -> str:
        """Fetch."""
        return f"{json}|{_private}|{model_config}|{copy}"

    tool = FunctionTool.from_function(fetch)
    assert list(tool.parameters["properties"]) == ["json", "_private", "model_config", "copy"]
    arguments = tool.validate({"json": "j", "_private": 5, "model_config": 7, "copy": True})
    assert tool.call(arguments) == "j|5|7|True"


@pytest.mark.parametrize("signature", ["*args: int", "**kwargs: int", "a: int, *rest: int"])
def test_star_parameters_are_rejected(signature: str) -> None:
    namespace: dict[str, Any] = {}
    exec(f"def tool({signature}) -> None: pass", namespace)
    with pytest.raises(
        ConfigurationError, match=r"takes \*{1,2}(args|kwargs|rest); a tool needs named parameters"
    ):
        FunctionTool.from_function(namespace["tool"])


@pytest.mark.parametrize("name", ["", "has space", "dots.not.allowed", "x" * 65, "<lambda>", "é"])
def test_bad_names_are_rejected(name: str) -> None:
    with pytest.raises(ConfigurationError, match="invalid tool name"):
        FunctionTool.from_function(get_weather, name=name)
    with pytest.raises(ConfigurationError, match="invalid tool name"):
        FunctionTool.from_model(Address, name=name)


def test_valid_names() -> None:
    for name in ("a", "A-b_9", "x" * 64):
        assert FunctionTool.from_function(get_weather, name=name).name == name
    with pytest.raises(ConfigurationError, match="invalid tool name '<lambda>'"):
        FunctionTool.from_function(lambda: None)


def test_unresolvable_annotations_are_a_configuration_error() -> None:
    namespace: dict[str, Any] = {}
    exec("from __future__ import annotations\ndef f(x: Missing) -> None: pass", namespace)
    with pytest.raises(ConfigurationError, match="cannot read the signature of f: name 'Missing' is not"):
        FunctionTool.from_function(namespace["f"])
    with pytest.raises(ConfigurationError, match="cannot read the signature of dict"):
        FunctionTool.from_function(dict)


def test_recursive_schemas_are_rejected() -> None:
    with pytest.raises(ConfigurationError, match="recursively"):
        FunctionTool.from_model(Node)


# --- schemas from models --------------------------------------------------------------------


def test_from_model() -> None:
    class WeatherReport(BaseModel):
        """A weather report
        to fill in.

        Attributes:
            city: where.
        """

        city: str
        temperature: float = Field(description="In degrees Celsius.")
        unit: Unit | None = None

    tool = FunctionTool.from_model(WeatherReport)
    assert tool.name == "WeatherReport"
    assert tool.description == "A weather report to fill in."
    assert tool.parameters == {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "temperature": {"description": "In degrees Celsius.", "type": "number"},
            "unit": {"anyOf": [{"enum": ["C", "F"], "type": "string"}, {"type": "null"}], "default": None},
        },
        "required": ["city", "temperature"],
    }
    assert FunctionTool.from_model(WeatherReport, name="report", description="D").name == "report"


def test_from_model_without_docstring_and_with_forbidden_extras() -> None:
    class Strict(BaseModel):
        model_config = ConfigDict(extra="forbid")
        x: int

    tool = FunctionTool.from_model(Strict)
    assert tool.description == ""
    assert tool.parameters["additionalProperties"] is False
    with pytest.raises(ToolArgumentsError, match=r"`y`: Extra inputs are not permitted"):
        tool.validate({"x": 1, "y": 2})


def test_from_model_rejects_non_object_and_generic_names() -> None:
    class Numbers(RootModel[list[int]]):
        pass

    class Box(BaseModel, Generic[T]):
        item: T

    with pytest.raises(ConfigurationError, match="must be a JSON object"):
        FunctionTool.from_model(Numbers)
    with pytest.raises(ConfigurationError, match=r"invalid tool name 'Box\[int\]'"):
        FunctionTool.from_model(Box[int])
    assert FunctionTool.from_model(Box[int], name="box").parameters["properties"] == {
        "item": {"type": "integer"}
    }


# --- validation -----------------------------------------------------------------------------


def test_validation_errors_list_every_bad_argument() -> None:
    tool = FunctionTool.from_function(get_weather)
    with pytest.raises(ToolArgumentsError) as caught:
        tool.validate({"days": "three", "unit": "K", "hours": [1, "x"], "home": {"street": 5}})
    error = caught.value
    assert isinstance(error, MirastreamError)
    assert isinstance(error, ValueError)
    assert error.tool_name == "get_weather"
    assert str(error) == (
        "6 invalid arguments for tool `get_weather`:\n"
        "- `city`: Field required\n"
        '- `days`: Input should be a valid integer, unable to parse string as an integer (got "three")\n'
        "- `unit`: Input should be 'C' or 'F' (got \"K\")\n"
        '- `hours[1]`: Input should be a valid integer, unable to parse string as an integer (got "x")\n'
        "- `home.street`: Input should be a valid string (got 5)\n"
        "- `home.city`: Field required"
    )
    assert [e["loc"] for e in error.errors] == [
        ("city",),
        ("days",),
        ("unit",),
        ("hours", 1),
        ("home", "street"),
        ("home", "city"),
    ]


def test_one_bad_argument_and_long_inputs() -> None:
    tool = FunctionTool.from_function(get_weather)
    with pytest.raises(ToolArgumentsError) as caught:
        tool.validate({"city": "x", "days": "y" * 500})
    message = str(caught.value)
    assert message.startswith("1 invalid argument for tool `get_weather`:\n- `days`: ")
    assert message.endswith('(got "' + "y" * 76 + "...)")


@pytest.mark.parametrize("arguments", [None, ["city"], "city"])
def test_arguments_that_are_not_an_object(arguments: Any) -> None:
    tool = FunctionTool.from_function(get_weather)
    with pytest.raises(ToolArgumentsError, match="must be a JSON object") as caught:
        tool.validate(arguments)
    assert caught.value.errors == []


def test_validation_coerces_like_pydantic_and_ignores_extra_arguments() -> None:
    tool = FunctionTool.from_function(get_weather)
    arguments = tool.validate(
        {"city": "Paris", "days": "5", "home": {"street": "s", "city": "c"}, "bogus": 1}
    )
    assert tool.call(arguments) == "Paris:5:C:None:street='s' city='c':"
    assert isinstance(arguments, tool.arguments_model)


# --- calling --------------------------------------------------------------------------------


def test_call_passes_nested_models_and_positional_only_parameters() -> None:
    seen: list[Any] = []

    def move(origin: Address, /, steps: int, *, fast: bool = False) -> int:
        seen.append((origin, steps, fast))
        return steps * 2

    tool = FunctionTool.from_function(move)
    assert tool.call(tool.validate({"origin": {"street": "a", "city": "b"}, "steps": 2, "fast": True})) == 4
    assert seen == [(Address(street="a", city="b"), 2, True)]
    assert isinstance(seen[0][0], Address)


def test_call_needs_validated_arguments() -> None:
    tool = FunctionTool.from_function(get_weather)
    other = FunctionTool.from_function(lambda city: city, name="other")
    with pytest.raises(TypeError, match="pass the result of `validate\\(\\)`"):
        tool.call(other.validate({"city": "x"}))


def test_async_functions() -> None:
    async def lookup(key: str) -> str:
        """Look up."""
        await asyncio.sleep(0)
        return key.upper()

    tool = FunctionTool.from_function(lookup)
    assert tool.is_async
    arguments = tool.validate({"key": "k"})
    with pytest.raises(TypeError, match=r"async function: run it with `acall\(\)`"):
        tool.call(arguments)
    assert asyncio.run(tool.acall(arguments)) == "K"


def test_sync_functions_through_acall() -> None:
    tool = FunctionTool.from_function(get_weather)
    assert asyncio.run(tool.acall(tool.validate({"city": "Rome"}))) == "Rome:3:C:None:None:"


def test_async_detection_sees_through_wrappers() -> None:
    class Service:
        async def method(self, x: int) -> int:
            return x + 1

    class AsyncCallable:
        async def __call__(self, x: int) -> int:
            return x + 2

    class SyncCallable:
        def __call__(self, x: int) -> int:
            return x + 3

    async def add(x: int, y: int) -> int:
        return x + y

    cases: list[tuple[Any, bool, int]] = [
        (Service().method, True, 2),
        (AsyncCallable(), True, 3),
        (SyncCallable(), False, 4),
        (functools.partial(add, y=10), True, 11),
    ]
    for fn, is_async, expected in cases:
        tool = FunctionTool.from_function(fn, name="t")
        assert tool.is_async is is_async
        assert tool.parameters["required"] == ["x"]  # no `self`; a partial's keywords become defaults
        assert asyncio.run(tool.acall(tool.validate({"x": 1}))) == expected


def test_a_sync_wrapper_that_returns_a_coroutine() -> None:
    async def inner(x: int) -> int:
        return x

    def wrapper(x: int) -> Any:
        return inner(x)

    tool = FunctionTool.from_function(wrapper)
    assert not tool.is_async
    with pytest.raises(TypeError, match="acall"):
        tool.call(tool.validate({"x": 1}))  # the coroutine is closed: no "never awaited" warning
    assert asyncio.run(tool.acall(tool.validate({"x": 7}))) == 7


def test_model_tools_return_the_validated_model() -> None:
    tool = FunctionTool.from_model(Address)
    arguments = tool.validate({"street": "s", "city": "c"})
    assert tool.call(arguments) is arguments
    assert asyncio.run(tool.acall(arguments)) is arguments
    assert not tool.is_async
    assert repr(tool) == "FunctionTool(name='Address', model)"


def test_exceptions_from_the_function_propagate() -> None:
    def broken() -> None:
        raise KeyError("boom")

    tool = FunctionTool.from_function(broken)
    with pytest.raises(KeyError, match="boom"):
        tool.call(tool.validate({}))


# --- as_tool and format_result --------------------------------------------------------------


def test_as_tool_takes_each_kind() -> None:
    tool = FunctionTool.from_function(get_weather)
    assert as_tool(tool) is tool
    assert as_tool(get_weather).parameters == tool.parameters
    model_tool = as_tool(Address)
    assert model_tool.name == "Address"
    assert model_tool.call(model_tool.validate({"street": "a", "city": "b"})) == Address(street="a", city="b")

    class Tripler:
        """Multiply."""

        def __call__(self, x: int) -> int:
            return x * 3

    callable_tool = as_tool(Tripler())
    assert (callable_tool.name, callable_tool.description) == ("Tripler", "Multiply.")
    assert callable_tool.call(callable_tool.validate({"x": 2})) == 6
    with pytest.raises(TypeError, match="cannot make a tool from int"):
        as_tool(3)  # type: ignore[arg-type]


def test_partials_keep_the_function_name_and_docstring() -> None:
    tool = as_tool(functools.partial(get_weather, days=1))
    assert tool.name == "get_weather"
    assert tool.description == "Get the weather forecast for a city."
    assert tool.parameters["properties"]["days"]["default"] == 1
    assert tool.call(tool.validate({"city": "Oslo"})) == "Oslo:1:C:None:None:"


class Point(BaseModel):
    x: int
    label: str = "é"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("as is \n é", "as is \n é"),
        ("", ""),
        (Point(x=1), '{"x":1,"label":"é"}'),
        ({"a": [1, 2.5, None, True]}, '{"a": [1, 2.5, null, true]}'),
        ([Point(x=2), "é"], '[{"x": 2, "label": "é"}, "é"]'),
        ((1, 2), "[1, 2]"),
        (3, "3"),
        (2.5, "2.5"),
        (False, "false"),
        (None, "null"),
        ({"when": Unit.CELSIUS}, '{"when": "Unit.CELSIUS"}'),
        (Unit.CELSIUS, "Unit.CELSIUS"),
        ({1}, "{1}"),
        (b"raw", "b'raw'"),
    ],
)
def test_format_result(value: Any, expected: str) -> None:
    assert format_result(value) == expected
