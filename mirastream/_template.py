"""Parsing and rendering of prompt templates.

A template is split into role sections *before* any value is substituted, so a value that
contains ``USER:`` can never open a new message. Role markers count only at the start of a
line. Placeholders use :meth:`str.format` syntax (``{field}``, ``{field.attr}``,
``{field[0]}``, ``{price:.2f}``, ``{{``/``}}`` escapes); lists render one item per line.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .errors import TemplateError

SectionRole = Literal["system", "user", "assistant", "messages"]

_MARKER = re.compile(r"^(SYSTEM|USER|ASSISTANT|MESSAGES):[ \t]*", re.MULTILINE)
_FIELD_ROOT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Section:
    """One role section of a template: its role and its (unrendered) text."""

    role: SectionRole
    text: str


@dataclass(frozen=True)
class ParsedTemplate:
    """A template split into sections, with the root names of every placeholder."""

    sections: tuple[Section, ...]
    field_names: frozenset[str]
    has_role_markers: bool


def clean_indentation(text: str) -> str:
    """Remove the template's common leading indentation and its surrounding blank lines.

    Like :func:`inspect.cleandoc`: a first line written right after the opening quotes does
    not count when measuring the indentation of the others.
    """
    lines = text.expandtabs().split("\n")
    rest = lines[1:]
    indents = [len(line) - len(line.lstrip()) for line in rest if line.strip()]
    margin = min(indents) if indents else 0
    cleaned = [lines[0].strip()] + [line[margin:].rstrip() for line in rest]
    return "\n".join(cleaned).strip("\n")


def _placeholder_roots(text: str) -> Iterator[str]:
    """Yield the root name of every placeholder in ``text`` (``a`` for ``{a.b[0]}``)."""
    for _literal, field, spec, _conversion in string.Formatter().parse(text):
        if field is None:
            continue
        match = _FIELD_ROOT.match(field)
        if match is None:
            raise TemplateError(
                f"placeholder {{{field}}} must name a field (positional placeholders such as "
                "{} or {0} are not supported; write {{ and }} for literal braces)"
            )
        yield match.group(0)
        if spec:
            yield from _placeholder_roots(spec)


def parse_template(template: str) -> ParsedTemplate:
    """Split ``template`` into role sections and collect its placeholder names.

    Raises:
        TemplateError: unbalanced braces, positional placeholders, text before the first role
            marker, or a ``MESSAGES:`` section that is not a single placeholder.
    """
    text = clean_indentation(template)
    markers = list(_MARKER.finditer(text))
    sections: list[Section] = []
    if not markers:
        sections.append(Section("user", text.strip()))
    else:
        preamble = text[: markers[0].start()].strip()
        if preamble:
            raise TemplateError(
                f"text before the first role marker: {preamble[:40]!r}; put it under a "
                "SYSTEM:, USER: or ASSISTANT: line"
            )
        for position, marker in enumerate(markers):
            end = markers[position + 1].start() if position + 1 < len(markers) else len(text)
            role: SectionRole = marker.group(1).lower()  # type: ignore[assignment]
            sections.append(Section(role, text[marker.end() : end].strip()))

    names: set[str] = set()
    for section in sections:
        try:
            roots = list(_placeholder_roots(section.text))
        except ValueError as error:  # unbalanced braces
            raise TemplateError(
                f"{error} in {section.text[:60]!r} (write {{{{ or }}}} for literal braces)"
            ) from None
        if section.role == "messages":
            pieces = list(string.Formatter().parse(section.text))
            if len(pieces) != 1 or pieces[0][0].strip() or pieces[0][1] is None or pieces[0][2]:
                raise TemplateError(
                    "a MESSAGES: line must hold exactly one placeholder, such as MESSAGES: {history}"
                )
        names.update(roots)
    return ParsedTemplate(tuple(sections), frozenset(names), bool(markers))


def _render_value(value: Any) -> str:
    """Render lists one item per line (lists of lists: blocks separated by a blank line)."""
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(item, (list, tuple)) for item in value):
            return "\n\n".join("\n".join(str(item) for item in block) for block in value)
        return "\n".join(str(item) for item in value)
    return str(value)


class _Formatter(string.Formatter):
    """A formatter that reads values from an object's attributes and renders lists."""

    def get_value(self, key: int | str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        return kwargs[str(key)]

    def format_field(self, value: Any, format_spec: str) -> str:
        if not format_spec:
            return _render_value(value)
        return format(value, format_spec)


class _AttributeMapping(Mapping[str, Any]):
    """Read-only mapping view of an object's attributes, for :meth:`str.format`."""

    def __init__(self, source: object) -> None:
        self._source = source

    def __getitem__(self, key: str) -> Any:
        return getattr(self._source, key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


_FORMATTER = _Formatter()


def render(text: str, source: object) -> str:
    """Fill the placeholders of ``text`` from the attributes of ``source``."""
    return _FORMATTER.vformat(text, (), _AttributeMapping(source))


def placeholder_value(text: str, source: object) -> Any:
    """Return the raw value of the single placeholder in a ``MESSAGES:`` section."""
    ((_literal, field, _spec, conversion),) = string.Formatter().parse(text)
    assert field is not None
    value, _ = _FORMATTER.get_field(field, (), _AttributeMapping(source))
    if conversion:
        value = _FORMATTER.convert_field(value, conversion)
    return value
