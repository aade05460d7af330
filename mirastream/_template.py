"""Parsing and rendering of prompt templates.

A template is split into role sections *before* any value is substituted, so a value that
contains `USER:` can never open a new message. Role markers count only at the start of a
line. Placeholders use `str.format` syntax (`{field}`, `{field.attr}`,
`{field[0]}`, `{price:.2f}`, `{{`/`}}` escapes); lists render one item per line.
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
_ROOT_END = re.compile(r"[.\[]")  # where the root name of a field reference ends
_ACCESSOR = re.compile(r"\.([^.\[]*)|\[([^\]]*)\]")
_CONVERSIONS = (None, "r", "s", "a")


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

    Like `inspect.cleandoc`: a first line written right after the opening quotes does
    not count when measuring the indentation of the others.
    """
    lines = [_expand_indentation(line) for line in text.split("\n")]
    rest = lines[1:]
    indents = [len(line) - len(line.lstrip()) for line in rest if line.strip()]
    margin = min(indents) if indents else 0
    cleaned = [lines[0].strip()] + [line[margin:].rstrip() for line in rest]
    return "\n".join(cleaned).strip("\n")


def _expand_indentation(line: str) -> str:
    """Expand the tabs of a line's leading whitespace only; tabs inside the text are kept."""
    body = line.lstrip(" \t")
    return line[: len(line) - len(body)].expandtabs() + body


def _field_root(field: str) -> str:
    """Check the syntax of a placeholder's field (`a.b[0]`) and return its root name (`a`)."""
    root = _ROOT_END.split(field, maxsplit=1)[0]
    if not root or root.isdigit():
        raise TemplateError(
            f"placeholder {{{field}}} must name a field (positional placeholders such as "
            "{} or {0} are not supported; write {{ and }} for literal braces)"
        )
    valid, position = root.isidentifier(), len(root)
    while valid and position < len(field):
        accessor = _ACCESSOR.match(field, position)
        valid = accessor is not None and bool(accessor[2] or (accessor[1] or "").isidentifier())
        position = accessor.end() if accessor else position
    if not valid:
        raise TemplateError(
            f"placeholder {{{field}}} is not a field reference; write {{name}}, {{name.attribute}} "
            "or {name[key]} (and {{ and }} for literal braces)"
        )
    return root


def _placeholder_roots(text: str) -> Iterator[str]:
    """Yield the root name of every placeholder in `text` (`a` for `{a.b[0]}`)."""
    for _literal, field, spec, conversion in string.Formatter().parse(text):
        if field is None:
            continue
        root = _field_root(field)
        if conversion not in _CONVERSIONS:
            raise TemplateError(f"placeholder {{{field}!{conversion}}}: the conversion must be !r, !s or !a")
        yield root
        if spec:
            yield from _placeholder_roots(spec)


def parse_template(template: str) -> ParsedTemplate:
    """Split `template` into role sections and collect its placeholder names.

    Raises:
        TemplateError: unbalanced braces, positional placeholders, text before the first role
            marker, or a `MESSAGES:` section that is not a single placeholder.
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
            body = text[marker.end() : end]
            # A marker alone on its line heads an indented block: dedent that block. Text on the
            # marker's own line keeps the lines below it at their indentation relative to it.
            if body.startswith("\n"):
                body = clean_indentation(body)
            sections.append(Section(role, body.strip()))

    names: set[str] = set()
    for section in sections:
        try:
            roots = list(_placeholder_roots(section.text))
        except TemplateError:
            raise
        except ValueError as error:  # unbalanced braces
            raise TemplateError(
                f"{error} in {section.text[:60]!r} (write {{{{ or }}}} for literal braces)"
            ) from None
        if section.role == "messages":
            pieces = list(string.Formatter().parse(section.text))
            # A conversion (!r, !s, !a) would turn the list into a string: rejected too.
            if len(pieces) != 1 or pieces[0][0].strip() or pieces[0][1] is None or any(pieces[0][2:]):
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
    """Read-only mapping view of an object's attributes, for `str.format`."""

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
    """Fill the placeholders of `text` from the attributes of `source`."""
    return _FORMATTER.vformat(text, (), _AttributeMapping(source))


def placeholder_value(text: str, source: object) -> Any:
    """Return the raw value of the single placeholder in a `MESSAGES:` section."""
    ((_literal, field, _spec, conversion),) = string.Formatter().parse(text)
    assert field is not None
    value, _ = _FORMATTER.get_field(field, (), _AttributeMapping(source))
    if conversion:
        value = _FORMATTER.convert_field(value, conversion)
    return value
