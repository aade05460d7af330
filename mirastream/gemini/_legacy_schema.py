"""Schemas and tools for the legacy client, whose protos know only Gemini's own `Schema`.

`google-ai-generativelanguage` 0.6.15 has no `parameters_json_schema`: a function's
parameters (and a `response_schema`) must be its `Schema` proto, an OpenAPI subset with an
uppercase `Type` enum. JSON schemas are translated into it here, recursively:

- `type` in any case becomes the enum name (`"object"` -> `"OBJECT"`); `["string", "null"]`
  and `anyOf`/`oneOf` of one schema and `{"type": "null"}` become that schema with
  `nullable`;
- `$ref` into `$defs`/`definitions` is inlined, a one-element `allOf` merged, `const` becomes
  a one-value `enum`, `minItems`/`maxItems` are kept;
- keywords the proto has no field for (`title`, `default`, `examples`, `additionalProperties`,
  `minimum`, `pattern`, ...) are left out, and so is an `enum` whose values are not all strings
  (the proto's `enum` holds strings);
- other unions, recursive `$ref`s and schemas without a type are a `ConfigurationError`.

Keys that are neither JSON Schema keywords nor `Schema` fields are kept, so that the
request proto rejects them by name before anything is sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import ConfigurationError
from ..tools._specs import encode_hosted

_PROVIDER = "gemini"

_TYPES = {"string", "number", "integer", "boolean", "array", "object"}
_KEPT = {"description", "nullable", "required", "format"}
_RENAMED = {
    "minItems": "min_items",
    "maxItems": "max_items",
    "min_items": "min_items",
    "max_items": "max_items",
}
# JSON Schema keywords the `Schema` proto has no field for: left out.
_DROPPED = {
    "$schema",
    "$id",
    "$comment",
    "title",
    "default",
    "examples",
    "example",
    "readOnly",
    "writeOnly",
    "deprecated",
    "additionalProperties",
    "patternProperties",
    "propertyNames",
    "unevaluatedProperties",
    "minProperties",
    "maxProperties",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "uniqueItems",
    "contains",
    "prefixItems",
    "contentEncoding",
    "contentMediaType",
    "$defs",
    "definitions",
    "propertyOrdering",
    "property_ordering",
}
# The formats the Gemini API documents for each type; others are left out.
_FORMATS = {"STRING": {"enum", "date-time"}, "NUMBER": {"float", "double"}, "INTEGER": {"int32", "int64"}}


def _fail(path: str, problem: str) -> ConfigurationError:
    return ConfigurationError(
        f"the legacy Gemini client cannot send the schema at {path}: {problem} "
        "(google-generativeai's Schema proto has no way to say it); use GeminiPrompt (google-genai)",
        provider=_PROVIDER,
    )


class _Converter:
    """Translates one JSON schema, resolving its `$ref`s against its root."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self._definitions: dict[str, Any] = {}
        for key in ("$defs", "definitions"):
            defs = root.get(key)
            if isinstance(defs, Mapping):
                self._definitions.update({f"#/{key}/{name}": value for name, value in defs.items()})
        self._resolving: list[str] = []

    def convert(self, schema: Any, path: str) -> dict[str, Any]:
        if not isinstance(schema, Mapping):
            raise _fail(path, f"a schema must be an object, not {type(schema).__name__}")
        reference = schema.get("$ref")
        if reference is not None:
            return self._inline(schema, str(reference), path)
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1:
            rest = {key: value for key, value in schema.items() if key != "allOf"}
            return {
                **self.convert(all_of[0], f"{path}.allOf[0]"),
                **self.convert_fields(rest, path, typed=False),
            }
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return self._union(schema, key, path)
        return self.convert_fields(schema, path, typed=True)

    def _inline(self, schema: Mapping[str, Any], reference: str, path: str) -> dict[str, Any]:
        target = self._definitions.get(reference)
        if target is None:
            raise _fail(path, f"$ref {reference!r} names no entry of $defs")
        if reference in self._resolving:
            raise _fail(path, f"$ref {reference!r} is recursive")
        self._resolving.append(reference)
        try:
            converted = self.convert(target, f"{path}->{reference}")
        finally:
            self._resolving.pop()
        rest = {key: value for key, value in schema.items() if key != "$ref"}
        return {**converted, **self.convert_fields(rest, path, typed=False)}

    def _union(self, schema: Mapping[str, Any], key: str, path: str) -> dict[str, Any]:
        options = schema[key]
        if not isinstance(options, list):
            raise _fail(path, f"{key} must be a list")
        kept = [
            option for option in options if not (isinstance(option, Mapping) and option.get("type") == "null")
        ]
        if len(kept) != 1:
            raise _fail(path, f"{key} with {len(kept)} non-null alternatives")
        rest = {name: value for name, value in schema.items() if name != key}
        converted = {**self.convert(kept[0], f"{path}.{key}"), **self.convert_fields(rest, path, typed=False)}
        if len(kept) < len(options):
            converted["nullable"] = True
        return converted

    def convert_fields(self, schema: Mapping[str, Any], path: str, *, typed: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        kind = _type_name(schema.get("type"), path)
        if kind is not None:
            name, nullable = kind
            out["type"] = name
            if nullable:
                out["nullable"] = True
        elif typed:
            if "properties" in schema:
                out["type"] = "OBJECT"
            elif "items" in schema:
                out["type"] = "ARRAY"
            elif "enum" in schema or "const" in schema:
                out["type"] = "STRING"
            else:
                raise _fail(path, "it has no type")
        for key, value in schema.items():
            if key == "type" or key in _DROPPED:
                continue
            if key in _KEPT:
                out[key] = value
            elif key in _RENAMED:
                out[_RENAMED[key]] = value
            elif key == "enum":
                if isinstance(value, list) and all(isinstance(item, str) for item in value):
                    out["enum"] = value
            elif key == "const":
                if isinstance(value, str):
                    out["enum"] = [value]
            elif key == "properties":
                if not isinstance(value, Mapping):
                    raise _fail(path, "properties must be an object")
                out["properties"] = {
                    name: self.convert(item, f"{path}.{name}") for name, item in value.items()
                }
            elif key == "items":
                out["items"] = self.convert(value, f"{path}[]")
            else:
                out[key] = value  # not JSON Schema: the request proto names it if it is wrong
        if "format" in out and out["format"] not in _FORMATS.get(out.get("type", ""), ()):
            del out["format"]
        return out


def _type_name(value: Any, path: str) -> tuple[str, bool] | None:
    """The `Type` enum name of a JSON schema `type` and whether it admits null."""
    if value is None:
        return None
    names = value if isinstance(value, list) else [value]
    if not all(isinstance(name, str) for name in names):
        raise _fail(path, f"type {value!r} is not a type name")
    lowered = [name.lower() for name in names]
    nullable = "null" in lowered
    kinds = [name for name in lowered if name != "null"]
    if len(kinds) != 1:
        raise _fail(path, f"type {value!r} names {len(kinds)} types")
    if kinds[0] not in _TYPES:
        raise _fail(path, f"unknown type {names[0]!r}")
    return kinds[0].upper(), nullable


def legacy_schema(schema: Any, path: str = "schema") -> dict[str, Any]:
    """A JSON schema (or a `Schema` dict in any case) as the legacy `Schema` proto's JSON."""
    if not isinstance(schema, Mapping):
        raise _fail(path, f"a schema must be an object, not {type(schema).__name__}")
    return _Converter(schema).convert(schema, path)


def _declaration(declaration: Any, index: str) -> Any:
    """A provider dict's function declaration with its schemas translated."""
    if not isinstance(declaration, Mapping):
        return declaration  # the request proto rejects it
    name = declaration.get("name", index)
    out = dict(declaration)
    for key in ("parameters_json_schema", "parametersJsonSchema", "parameters"):
        if key in out:
            out["parameters"] = legacy_schema(out.pop(key), f"{name}.parameters")
    for key in ("response_json_schema", "responseJsonSchema", "response"):
        if key in out:
            out["response"] = legacy_schema(out.pop(key), f"{name}.response")
    return out


def legacy_tools(tools: Iterable[Any]) -> list[dict[str, Any]]:
    """The `tools` of a legacy request.

    Provider dicts are kept, their function declarations' schemas translated; mirastream's
    tools (anything with `name`, `description` and a JSON schema as `parameters`) become
    one set of function declarations.
    """
    encoded: list[dict[str, Any]] = []
    declarations: list[dict[str, Any]] = []
    for tool in tools:
        if isinstance(tool, Mapping):
            tool = dict(tool)
            for key in ("function_declarations", "functionDeclarations"):
                if isinstance(tool.get(key), list):
                    tool[key] = [_declaration(item, f"{key}[{i}]") for i, item in enumerate(tool[key])]
            encoded.append(tool)
            continue
        hosted = encode_hosted(tool, "gemini")
        if hosted is not None:  # Gemini's own tool (code execution)
            encoded.append(hosted)
            continue
        declaration: dict[str, Any] = {"name": tool.name, "description": tool.description}
        if tool.parameters:
            declaration["parameters"] = legacy_schema(tool.parameters, f"{tool.name}.parameters")
        declarations.append(declaration)
    if declarations:
        encoded.append({"function_declarations": declarations})
    return encoded


def declared_schemas(tools: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The translated parameter schema of every function declared in `tools` (legacy JSON), by name."""
    schemas: dict[str, dict[str, Any]] = {}
    for tool in tools:
        for key in ("function_declarations", "functionDeclarations"):
            for declaration in tool.get(key) or ():
                if isinstance(declaration, Mapping) and isinstance(declaration.get("parameters"), Mapping):
                    schemas[str(declaration.get("name"))] = declaration["parameters"]
    return schemas


def restore_integers(value: Any, schema: Mapping[str, Any] | None) -> Any:
    """`value` with every whole-number float where `schema` says `INTEGER` turned back into an int.

    Protobuf's `Struct` holds every number as a double, so `3` in a function call's
    arguments can reach mirastream as `3.0`; the declared schema says which were integers.
    """
    if schema is None:
        return value
    kind = schema.get("type")
    if kind == "INTEGER" and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind == "OBJECT" and isinstance(value, dict):
        properties = schema.get("properties") or {}
        return {key: restore_integers(item, properties.get(key)) for key, item in value.items()}
    if kind == "ARRAY" and isinstance(value, list):
        items = schema.get("items")
        return [restore_integers(item, items) for item in value]
    return value
