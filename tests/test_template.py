"""Template parsing and rendering (mirastream._template), independent of prompt classes."""

from __future__ import annotations

import inspect
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mirastream._template import (
    Section,
    clean_indentation,
    parse_template,
    placeholder_value,
    render,
)
from mirastream.errors import ConfigurationError, TemplateError

# --- clean_indentation ---------------------------------------------------------------------------


def test_common_indentation_of_a_triple_quoted_template_is_removed() -> None:
    template = """
        SYSTEM: You are a librarian.
        USER: Recommend a book.
        """
    assert clean_indentation(template) == "SYSTEM: You are a librarian.\nUSER: Recommend a book."


def test_relative_indentation_is_kept() -> None:
    template = """
        Items:
            - one
              continued
        End
    """
    assert clean_indentation(template) == "Items:\n    - one\n      continued\nEnd"


def test_first_line_after_the_opening_quotes_does_not_count_toward_the_margin() -> None:
    template = """SYSTEM: first line, no indentation
        USER: indented by eight
            nested by four more
        """
    assert clean_indentation(template) == (
        "SYSTEM: first line, no indentation\nUSER: indented by eight\n    nested by four more"
    )


def test_leading_and_trailing_blank_lines_are_removed_inner_blank_lines_kept() -> None:
    assert clean_indentation("\n\n    a\n\n    b\n    \n\n") == "a\n\nb"


def test_whitespace_only_lines_do_not_lower_the_margin() -> None:
    assert clean_indentation("\n        a\n  \n        b\n") == "a\n\nb"


def test_unindented_template_is_unchanged() -> None:
    assert clean_indentation("USER: hi\nthere") == "USER: hi\nthere"


def test_tabs_in_the_indentation_count_as_tab_stops() -> None:
    assert (
        clean_indentation("\n\tSYSTEM: s\n        USER: u\n\t    deeper") == "SYSTEM: s\nUSER: u\n    deeper"
    )


def test_tabs_inside_the_text_are_kept() -> None:
    assert clean_indentation("\n    name\tvalue\n    a\tb") == "name\tvalue\na\tb"


_indent = st.sampled_from(["", " ", "  ", "    ", "        "])
_words = st.text(st.sampled_from("ab{}:.xyz "), max_size=10).map(str.strip)


@given(first=_words, rest=st.lists(st.tuples(_indent, _words), max_size=6))
def test_clean_indentation_agrees_with_inspect_cleandoc(first: str, rest: list[tuple[str, str]]) -> None:
    # Blank lines are written empty: cleandoc keeps whitespace-only lines when no line has text.
    text = "\n".join([first, *(indent + words if words else "" for indent, words in rest)])
    assert clean_indentation(text) == inspect.cleandoc(text)


# --- parse_template: sections --------------------------------------------------------------------


def test_template_without_markers_is_a_single_user_section() -> None:
    parsed = parse_template("\n    Tell me about {topic}.\n    Be brief.\n    ")
    assert parsed.sections == (Section("user", "Tell me about {topic}.\nBe brief."),)
    assert parsed.has_role_markers is False
    assert parsed.field_names == {"topic"}


def test_role_markers_open_sections_in_order() -> None:
    parsed = parse_template(
        """
        SYSTEM: You are {persona}.
        USER: first
        ASSISTANT: reply
        USER: second
        """
    )
    assert parsed.sections == (
        Section("system", "You are {persona}."),
        Section("user", "first"),
        Section("assistant", "reply"),
        Section("user", "second"),
    )
    assert parsed.has_role_markers is True


def test_section_text_spans_lines_until_the_next_marker_and_is_stripped() -> None:
    parsed = parse_template("SYSTEM:   \n\n  line one\nline two  \n\nUSER:\tq\n")
    assert parsed.sections == (Section("system", "line one\nline two"), Section("user", "q"))


def test_marker_without_space_after_the_colon_is_a_marker() -> None:
    assert parse_template("SYSTEM:s\nUSER:u").sections == (Section("system", "s"), Section("user", "u"))


def test_marker_in_the_middle_of_a_line_is_text() -> None:
    parsed = parse_template("USER: answer as 'ASSISTANT: x' and then SYSTEM: y")
    assert parsed.sections == (Section("user", "answer as 'ASSISTANT: x' and then SYSTEM: y"),)


def test_mid_line_marker_without_any_line_marker_keeps_the_template_one_user_message() -> None:
    parsed = parse_template("Say USER: hello")
    assert parsed.sections == (Section("user", "Say USER: hello"),)
    assert parsed.has_role_markers is False


@pytest.mark.parametrize("line", ["USERNAME: x", "user: x", "User: x", "ASSISTANTS: x", "USER : x"])
def test_only_exact_uppercase_role_names_followed_by_a_colon_are_markers(line: str) -> None:
    parsed = parse_template(line)
    assert parsed.sections == (Section("user", line),)
    assert parsed.has_role_markers is False


def test_marker_indented_deeper_than_the_template_is_not_at_line_start() -> None:
    parsed = parse_template("\n    SYSTEM: rules\n      USER: still system\n    USER: q\n")
    assert parsed.sections == (Section("system", "rules\n  USER: still system"), Section("user", "q"))


def test_empty_section_is_kept() -> None:
    assert parse_template("SYSTEM:\nUSER: u").sections == (Section("system", ""), Section("user", "u"))


def test_text_before_the_first_marker_is_an_error() -> None:
    with pytest.raises(TemplateError, match="before the first role marker"):
        parse_template("Hello\nUSER: hi")


def test_blank_lines_before_the_first_marker_are_not_preamble() -> None:
    assert parse_template("\n\n   \nUSER: hi").sections == (Section("user", "hi"),)


def test_template_error_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        parse_template("preamble\nSYSTEM: x")


def test_crlf_template_is_split_like_an_lf_template() -> None:
    assert (
        parse_template("SYSTEM: s\r\nUSER: u\r\n").sections == parse_template("SYSTEM: s\nUSER: u\n").sections
    )


# --- parse_template: MESSAGES ----------------------------------------------------------------------


def test_messages_section_holds_its_single_placeholder() -> None:
    parsed = parse_template("SYSTEM: s\nMESSAGES: {history}\nUSER: {q}")
    assert parsed.sections == (
        Section("system", "s"),
        Section("messages", "{history}"),
        Section("user", "{q}"),
    )
    assert parsed.field_names == {"history", "q"}


def test_messages_placeholder_may_reach_into_a_field() -> None:
    parsed = parse_template("MESSAGES: {chat.history}")
    assert parsed.sections == (Section("messages", "{chat.history}"),)
    assert parsed.field_names == {"chat"}


@pytest.mark.parametrize(
    "section",
    [
        "MESSAGES:",
        "MESSAGES: history",
        "MESSAGES: {a}{b}",
        "MESSAGES: {a} {b}",
        "MESSAGES: see {history}",
        "MESSAGES: {history} and more",
        "MESSAGES: {history}\nmore text",
        "MESSAGES: {history:>10}",
        "MESSAGES: {history!r}",
        "MESSAGES: {history!s}",
        "MESSAGES: {{history}}",
    ],
)
def test_messages_section_with_anything_but_one_placeholder_is_an_error(section: str) -> None:
    with pytest.raises(TemplateError, match="MESSAGES"):
        parse_template(f"SYSTEM: s\n{section}\nUSER: q")


# --- parse_template: placeholders --------------------------------------------------------------------


def test_field_names_are_the_roots_of_every_placeholder() -> None:
    parsed = parse_template(
        "USER: {a} {b.attr} {c[0]} {d[key].x} {e:.2f} {f!r} {g:>{width}} {a} {h:{fill}^{size}}"
    )
    assert parsed.field_names == {"a", "b", "c", "d", "e", "f", "g", "width", "h", "fill", "size"}


def test_escaped_braces_are_not_placeholders() -> None:
    parsed = parse_template('USER: {{"json": true}} {{name}}')
    assert parsed.field_names == frozenset()


def test_unicode_field_names_are_accepted() -> None:
    assert parse_template("USER: {café} {名前}").field_names == {"café", "名前"}


@pytest.mark.parametrize("placeholder", ["{}", "{0}", "{1.attr}", "{0[0]}", "{.attr}", "{[0]}"])
def test_positional_placeholders_are_errors(placeholder: str) -> None:
    with pytest.raises(TemplateError, match="positional") as caught:
        parse_template(f"USER: x {placeholder}")
    # Reported once as a positional placeholder, not re-wrapped as a brace error.
    assert str(caught.value).count("literal braces") == 1


def test_positional_placeholder_inside_a_format_spec_is_an_error() -> None:
    with pytest.raises(TemplateError, match="positional"):
        parse_template("USER: {price:.{}f}")


@pytest.mark.parametrize(
    "text", ["USER: {a", "USER: a}", "USER: {a}}", "USER: {{a}", "USER: {a:{b}", "USER: {a[}"]
)
def test_unbalanced_braces_are_errors(text: str) -> None:
    with pytest.raises(TemplateError, match="literal braces"):
        parse_template(text)


def test_unbalanced_brace_in_a_later_section_is_an_error() -> None:
    with pytest.raises(TemplateError):
        parse_template("SYSTEM: fine {a}\nUSER: broken {")


@pytest.mark.parametrize(
    "placeholder",
    ["{a-b}", "{a b}", "{a+1}", "{1a}", "{a.}", "{a..b}", "{a.b-c}", "{a[]}", "{a[0]x}", "{a[0].}"],
)
def test_malformed_field_references_are_errors_not_render_failures(placeholder: str) -> None:
    with pytest.raises(TemplateError, match="not a field reference"):
        parse_template(f"USER: {placeholder}")


@pytest.mark.parametrize("placeholder", ["{a!x}", "{a!R}"])
def test_unknown_conversions_are_errors(placeholder: str) -> None:
    with pytest.raises(TemplateError, match="conversion"):
        parse_template(f"USER: {placeholder}")


@pytest.mark.parametrize("placeholder", ["{a!r}", "{a!s}", "{a!a}", "{a!r:>5}"])
def test_standard_conversions_are_accepted(placeholder: str) -> None:
    assert parse_template(f"USER: {placeholder}").field_names == {"a"}


def test_index_keys_may_be_any_text() -> None:
    assert parse_template("USER: {d[some key]} {d[-1]}").field_names == {"d"}


# --- render ------------------------------------------------------------------------------------------


def test_render_reads_attributes_of_the_source() -> None:
    source = SimpleNamespace(name="Ada", year=1815)
    assert render("{name} was born in {year}.", source) == "Ada was born in 1815."


def test_render_supports_attribute_index_and_key_access() -> None:
    source = SimpleNamespace(
        user=SimpleNamespace(name="Ada"), items=["x", "y"], table={"k": "v", "0": "string key"}
    )
    assert render("{user.name} {items[1]} {table[k]}", source) == "Ada y v"


def test_render_applies_format_specs_and_nested_specs() -> None:
    source = SimpleNamespace(price=3.14159, width=8, digits=3, label="ab")
    assert render("{price:.2f}|{price:>{width}.{digits}f}|{label:*^6}", source) == "3.14|   3.142|**ab**"


def test_render_applies_conversions() -> None:
    assert render("{v!r} {v!s} {w!a}", SimpleNamespace(v="x", w="é")) == "'x' x '\\xe9'"


def test_render_list_one_item_per_line() -> None:
    assert render("Items:\n{items}", SimpleNamespace(items=["a", 2, "c"])) == "Items:\na\n2\nc"


def test_render_tuple_like_a_list() -> None:
    assert render("{items}", SimpleNamespace(items=("a", "b"))) == "a\nb"


def test_render_list_of_lists_as_blocks_separated_by_a_blank_line() -> None:
    source = SimpleNamespace(blocks=[["a1", "a2"], ("b1",), ["c1", "c2", "c3"]])
    assert render("{blocks}", source) == "a1\na2\n\nb1\n\nc1\nc2\nc3"


def test_render_empty_list_is_empty() -> None:
    assert render("[{items}]", SimpleNamespace(items=[])) == "[]"


def test_render_list_mixing_lists_and_items_renders_each_item_on_a_line() -> None:
    assert render("{items}", SimpleNamespace(items=[["a"], "b"])) == "['a']\nb"


def test_render_string_is_not_split_into_characters() -> None:
    assert render("{s}", SimpleNamespace(s="abc")) == "abc"


def test_render_list_element_by_index_is_not_joined() -> None:
    assert render("{blocks[1]}", SimpleNamespace(blocks=[["a"], ["b", "c"]])) == "b\nc"


def test_render_unescapes_doubled_braces() -> None:
    assert render('{{"name": "{name}"}}', SimpleNamespace(name="x")) == '{"name": "x"}'


@given(value=st.text())
def test_render_inserts_values_verbatim_without_reformatting_them(value: str) -> None:
    assert render("<{v}>", SimpleNamespace(v=value)) == f"<{value}>"


def test_render_does_not_interpret_braces_inside_values() -> None:
    assert render("{a}", SimpleNamespace(a="{b}", b="secret")) == "{b}"


def test_render_missing_attribute_raises_instead_of_rendering_empty() -> None:
    with pytest.raises(AttributeError):
        render("{missing}", SimpleNamespace())


# --- placeholder_value -------------------------------------------------------------------------------


def test_placeholder_value_returns_the_raw_object() -> None:
    history = [{"role": "user", "content": "hi"}]
    assert placeholder_value("{history}", SimpleNamespace(history=history)) is history


def test_placeholder_value_follows_attributes_and_indexes() -> None:
    inner = ["x"]
    source = SimpleNamespace(chat=SimpleNamespace(turns=[inner]))
    assert placeholder_value("{chat.turns[0]}", source) is inner
