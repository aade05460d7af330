"""The terminal renderer: live regions are transient, what is finished is printed for good."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from mirastream.cli._rich import RichRenderer, stable_prefix

from ..loopback import LoopbackServer, Reply
from .conftest import Run, plain


def renderer(stdin: str = "") -> tuple[RichRenderer, io.StringIO]:
    """A renderer on a console that records only what is printed for good (no live frames)."""
    out = io.StringIO()
    console = Console(file=out, width=60, force_terminal=False, color_system=None)
    return RichRenderer(console, Console(file=io.StringIO()), io.StringIO(stdin)), out


@pytest.mark.parametrize(
    ("text", "finished"),
    [
        ("one", ""),
        ("one\n\ntwo", "one\n\n"),
        ("one\n\ntwo\n\nthr", "one\n\ntwo\n\n"),
        ("```python\nx = 1\n\ny = 2", ""),  # inside a fence: nothing is finished
        ("```python\nx = 1\n\ny = 2\n```\n\nnext", "```python\nx = 1\n\ny = 2\n```\n\n"),
        ("- item\n\n  more of the item", ""),  # an indented continuation belongs to the item
        ("- item\n\n  more\n\nafter", "- item\n\n  more\n\n"),
        ("1. one\n\n2. two\n\nafter", "1. one\n\n2. two\n\n"),  # a loose list stays whole
        ("intro\n\n- a", ""),
    ],
)
def test_stable_prefix_cuts_after_finished_paragraphs(text: str, finished: str) -> None:
    assert text[: stable_prefix(text)] == finished


def test_finished_paragraphs_are_printed_while_the_answer_streams() -> None:
    render, out = renderer()
    for piece in ["# Ti", "tle\n", "\nFirst ", "paragraph.\n\n- a\n", "- b"]:
        render.text(piece)
        if piece == "\nFirst ":
            assert "Title" in out.getvalue()  # the heading is final: printed before the rest arrives
            assert "First" not in out.getvalue()
    render.finish()
    printed = out.getvalue()
    assert (
        printed.index("Title") < printed.index("First paragraph.") < printed.index("a") < printed.index("b")
    )
    assert "# Ti" not in printed  # rendered as Markdown, not raw


def test_code_panel_then_question_then_output() -> None:
    render, out = renderer(stdin="y\n")
    render.code_start("python")
    for piece in ["x = 34", " / 24\nprint(", "x)"]:
        render.code(piece)
    render.code_end()
    assert render.confirm("python") is True
    render.console_start("python")
    render.active_line(2)
    render.output("1.41", "stdout")
    render.output("66\nsecond line\n", "stdout")
    render.output("a warning\n", "stderr")
    render.image(Path("/tmp/image-1.png"))
    render.console_end()
    render.footer("openai · finish: stop")
    printed = out.getvalue()
    assert "python" in printed and "1 x = 34 / 24" in printed and "2 print(x)" in printed
    assert "Run this python code? [y/N]" in printed
    order = [
        "print(x)",
        "Run this",
        "1.4166",
        "second line",
        "a warning",
        "image saved: /tmp/image-1.png",
        "ran in",
    ]
    assert [printed.index(part) for part in order] == sorted(printed.index(part) for part in order)
    assert printed.count("1.4166") == 1


def test_a_no_and_the_end_of_input_do_not_run() -> None:
    render, out = renderer(stdin="n\n")
    assert render.confirm("shell") is False
    assert render.confirm("shell") is False  # end of input
    assert "not run" in out.getvalue()


def test_reasoning_is_shown_before_the_answer() -> None:
    render, out = renderer()
    render.thinking("Let me think")
    render.text("The answer.")
    render.finish()
    printed = out.getvalue()
    assert printed.index("Let me think") < printed.index("The answer.")


def test_in_a_terminal_the_chat_renders_live(
    chat: Callable[..., Run],
    connect: Callable[[str], None],
    server: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "FORCE_COLOR": "1",
        "TERM": "xterm-256color",
        "COLUMNS": "100",
        "LINES": "40",
    }.items():
        monkeypatch.setenv(name, value)
    connect("openai")
    server.queue(Reply.sse("tools/openai_execute.sse"), Reply.sse("tools/openai_final.sse"))
    run = chat("chat", "What is 34/24? Compute it.", stdin="y\n")
    assert run.status == 0, run.err
    assert "\x1b[" in run.out  # styled and live
    text = plain(run.out)
    assert "Run this python code?" in text
    assert 'print("ratio:", round(x, 3))' in text
    assert "ratio: 1.417" in text and "1.4166666666666667" in text
    assert "34 / 24 is about 1.417." in text
    assert "finish: stop" in text


def test_plain_forces_plain_output_in_a_terminal(
    chat: Callable[..., Run],
    connect: Callable[[str], None],
    server: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TERM", "xterm-256color")
    connect("openai")
    server.queue(Reply.sse("openai/text.sse"))
    run = chat("chat", "hi", "--plain", "--no-tools")
    assert run.status == 0, run.err
    assert run.out == "Try apple crumble, apple pie and baked apples.\n"
