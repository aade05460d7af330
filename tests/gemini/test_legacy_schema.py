"""Schemas for the legacy protos, and the reader of the legacy transport's JSON array.

The schema tests check the translation against the legacy `Schema` proto itself (each
result must parse into it) and, over loopback, that a lowercase JSON schema reaches the
server in the legacy form.
"""

from __future__ import annotations

import itertools
import json
from typing import Any, Optional

import pytest
from google.ai import generativelanguage as glm
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from mirastream.errors import ConfigurationError, MalformedStreamError, StreamInterrupted
from mirastream.gemini import GeminiCallParams, GeminiLegacyPrompt
from mirastream.gemini._legacy_read import JsonArrayElements
from mirastream.gemini._legacy_schema import legacy_schema, legacy_tools
from mirastream.tools.function import as_tool

from ..loopback import LoopbackServer, Reply
from ..reading import consume


def parses(schema: dict[str, Any]) -> glm.Schema:
    """`schema` parsed by the legacy proto (raises when the proto rejects it)."""
    result: glm.Schema = glm.Schema.from_json(json.dumps(schema))
    return result


class Place(BaseModel):
    city: str
    zip: Optional[int] = None  # noqa: UP045  (the Optional form pydantic writes as anyOf)


def plan(count: int, place: Place, unit: str = "c", sizes: list[float] | None = None) -> str:
    """Plan a trip.

    Args:
        count: how many.
    """
    return ""


def test_a_pydantic_generated_schema_becomes_the_legacy_schema() -> None:
    (tools,) = legacy_tools([as_tool(plan)])
    (declaration,) = tools["function_declarations"]
    parameters = declaration["parameters"]
    assert parameters == {
        "type": "OBJECT",
        "properties": {
            "count": {"type": "INTEGER", "description": "how many."},
            "place": {
                "type": "OBJECT",
                "properties": {"city": {"type": "STRING"}, "zip": {"type": "INTEGER", "nullable": True}},
                "required": ["city"],
            },
            "unit": {"type": "STRING"},
            "sizes": {"type": "ARRAY", "items": {"type": "NUMBER"}, "nullable": True},
        },
        "required": ["count", "place"],
    }
    assert parses(parameters).properties["place"].properties["zip"].nullable


def test_refs_type_lists_and_left_out_keywords() -> None:
    schema = {
        "$defs": {"Unit": {"type": "string", "enum": ["c", "f"], "title": "Unit"}},
        "type": "object",
        "title": "Args",
        "additionalProperties": False,
        "properties": {
            "unit": {"$ref": "#/$defs/Unit", "description": "the unit"},
            "when": {"type": ["string", "null"], "format": "date-time"},
            "id": {"type": "string", "format": "uuid", "minLength": 3},
            "mode": {"const": "fast"},
            "level": {"type": "integer", "enum": [1, 2], "minimum": 0},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
            "wrapped": {"allOf": [{"$ref": "#/$defs/Unit"}], "default": "c"},
        },
    }
    converted = legacy_schema(schema)
    assert converted == {
        "type": "OBJECT",
        "properties": {
            "unit": {"type": "STRING", "enum": ["c", "f"], "description": "the unit"},
            "when": {"type": "STRING", "nullable": True, "format": "date-time"},
            "id": {"type": "STRING"},  # `uuid` is no format the API documents; minLength has no field
            "mode": {"type": "STRING", "enum": ["fast"]},
            "level": {"type": "INTEGER"},  # the proto's enum holds strings only
            "tags": {"type": "ARRAY", "items": {"type": "STRING"}, "min_items": 1, "max_items": 3},
            "wrapped": {"type": "STRING", "enum": ["c", "f"]},
        },
    }
    parses(converted)


def test_a_schema_in_the_legacy_form_already_is_kept() -> None:
    schema = {"type": "OBJECT", "properties": {"n": {"type": "INTEGER", "nullable": True}}, "required": ["n"]}
    assert legacy_schema(schema) == schema


@pytest.mark.parametrize(
    ("schema", "match"),
    [
        (
            {"type": "object", "properties": {"v": {"anyOf": [{"type": "string"}, {"type": "integer"}]}}},
            r"\.v: anyOf",
        ),
        ({"type": ["string", "integer"]}, "names 2 types"),
        ({"type": "object", "properties": {"v": {}}}, r"\.v: it has no type"),
        ({"type": "object", "properties": {"v": {"$ref": "#/$defs/Missing"}}}, "names no entry"),
        (
            {
                "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}},
                "$ref": "#/$defs/Node",
            },
            "recursive",
        ),
        ({"type": "tuple"}, "unknown type"),
    ],
)
def test_what_the_legacy_schema_cannot_say_is_a_configuration_error(
    schema: dict[str, Any], match: str
) -> None:
    with pytest.raises(ConfigurationError, match=match):
        legacy_schema(schema)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_lowercase_schemas_reach_the_server_in_the_legacy_form(server: LoopbackServer, mode: str) -> None:
    class Recipe(GeminiLegacyPrompt):
        prompt_template = "USER: A recipe"
        call_params = GeminiCallParams(
            model="gemini-2.5-flash",
            response_mime_type="application/json",
            response_schema={"type": "object", "properties": {"name": {"type": "string"}}},
            tools=[
                {
                    "function_declarations": [
                        {"name": "f", "parameters_json_schema": {"type": "object", "properties": {}}}
                    ]
                }
            ],
        )

    server.queue(Reply.sse("gemini/text.sse"))
    _, response, error = consume(Recipe(), mode)
    assert error is None and response.text
    body = server.last_request.json()
    obj, string = glm.Type.OBJECT.value, glm.Type.STRING.value
    assert body["generationConfig"]["responseSchema"] == {
        "type": obj,
        "properties": {"name": {"type": string}},
    }
    assert body["tools"] == [{"functionDeclarations": [{"name": "f", "parameters": {"type": obj}}]}]


# The JSON array reader


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def read_all(pieces: list[bytes]) -> list[bytes]:
    reader = JsonArrayElements()
    elements = [element for piece in pieces for element in reader.feed(piece)]
    reader.end()
    return elements


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.dictionaries(st.text(max_size=5), json_values, max_size=4), max_size=5),
    st.lists(st.integers(min_value=0), max_size=12),
    st.sampled_from([",", "\r\n,", ",\n\n", " , "]),
)
def test_any_split_of_an_array_gives_its_objects(
    objects: list[dict[str, Any]], cuts: list[int], separator: str
) -> None:
    data = ("[" + separator.join(json.dumps(item) for item in objects) + "]").encode()
    assert [json.loads(element) for element in read_all(split(data, cuts))] == objects


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.dictionaries(st.text(max_size=5), json_values, min_size=1, max_size=4), min_size=1, max_size=4
    ),
    st.data(),
)
def test_a_truncated_array_is_interrupted(objects: list[dict[str, Any]], data: st.DataObject) -> None:
    body = ("[" + ",".join(json.dumps(item) for item in objects) + "]").encode()
    cut = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
    with pytest.raises(StreamInterrupted):
        read_all([body[:cut]])


@pytest.mark.parametrize(
    "body",
    [b'{"candidates": []}', b"[5]", b'[{"a": 1}] [', b'[{"a": 1}, "x"]', b"<html>"],
)
def test_what_is_not_an_array_of_objects_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedStreamError):
        read_all([body])


def test_strings_with_braces_quotes_and_escapes_split_anywhere() -> None:
    item = {"text": 'a "}" {[ \\" \\\\', "n": [1, {"b": "]"}]}
    data = ("[" + json.dumps(item) + "]").encode()
    for cut in range(len(data) + 1):
        assert [json.loads(element) for element in read_all([data[:cut], data[cut:]])] == [item]
