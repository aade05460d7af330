"""`PythonSession` against a real IPython kernel: what only a Python session does.

What every session does is checked against both kinds in `test_session_lifecycle.py`.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterator

import pytest

from mirastream.tools.execution import ActiveLine, Finished, Image, Limits, Output, PythonSession

from .session_helpers import acollect, finished, run, stderr, stdout

pytest.importorskip("ipykernel")

# A 1x1 transparent PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


@pytest.fixture(scope="module")
def python() -> Iterator[PythonSession]:
    with PythonSession(Limits(timeout=20)) as session:
        session.start()
        yield session


# Running code -----------------------------------------------------------------------------


def test_variables_persist_between_executions(python: PythonSession) -> None:
    assert finished(run(python, "counter = 41")).status == "ok"
    events = run(python, "counter += 1\nprint(counter)")
    assert stdout(events) == "42\n"
    assert finished(events) == Finished("ok", None, finished(events).duration)


def test_the_last_expression_is_shown_as_in_a_notebook(python: PythonSession) -> None:
    events = run(python, "x = 34\n34 / 24")
    assert [event for event in events if isinstance(event, Output)] == [
        Output("stdout", "1.4166666666666667\n")
    ]
    assert stdout(run(python, "x = 1")) == ""  # an assignment shows nothing


def test_printed_text_arrives_within_a_flush_interval(python: PythonSession) -> None:
    # Both processes read the same monotonic clock, so the delay can be measured.
    latencies = []
    for _ in range(3):
        for event in python.execute("import time; print(time.monotonic()); time.sleep(0.2)"):
            if isinstance(event, Output):
                latencies.append(time.monotonic() - float(event.text))
    assert min(latencies) < 0.15, latencies


def test_an_exception_finishes_with_error_and_a_plain_traceback(python: PythonSession) -> None:
    events = run(python, "def f():\n    return 1 / 0\n\nf()")
    end = finished(events)
    assert end.status == "error"
    assert end.error == "ZeroDivisionError: division by zero"
    assert "ZeroDivisionError" in stderr(events)
    assert "\x1b" not in stderr(events)
    assert stdout(run(python, "print('still fine')")) == "still fine\n"


def test_the_code_runs_exactly_as_written(python: PythonSession) -> None:
    code = 's = """a\n\nb"""  # a comment\n\n\nprint(repr(s))\nraise ValueError("line 7")'
    events = run(python, code)
    assert stdout(events) == "'a\\n\\nb'\n"
    assert "----> 7" in stderr(events)  # blank lines and comments kept: line numbers match
    assert finished(events).error == "ValueError: line 7"


def test_images_are_image_events(python: PythonSession) -> None:
    code = (
        "from IPython.display import Image, SVG, display\n"
        f"display(Image(data={PNG!r}))\n"
        "display(SVG('<svg xmlns=\"http://www.w3.org/2000/svg\"/>'))"
    )
    images = [event for event in run(python, code) if isinstance(event, Image)]
    assert images[0] == Image("image/png", base64.b64encode(PNG).decode())
    assert images[1].mime == "image/svg+xml"
    assert images[1].data.startswith("<svg")


def test_active_lines_follow_the_top_level_code_and_end_with_none(python: PythonSession) -> None:
    events = run(python, "a = 1\nb = 2\nc = a + b")
    assert [event for event in events if isinstance(event, ActiveLine)] == [
        ActiveLine(1),
        ActiveLine(2),
        ActiveLine(3),
        ActiveLine(None),
    ]
    assert isinstance(events[-2], ActiveLine)  # None comes right before Finished
    code = "def f():\n    x = 1\n    return x\n\nf()\nprint(f())"
    lines = [event.line for event in run(python, code) if isinstance(event, ActiveLine)]
    assert lines == [1, 5, 6, None]  # not the lines inside f


def test_active_lines_are_throttled_in_loops(python: PythonSession) -> None:
    events = run(python, "total = 0\nfor i in range(200_000):\n    total += i\nprint(total)")
    lines = [event.line for event in events if isinstance(event, ActiveLine)]
    assert lines[:3] == [1, 2, 3]
    assert lines[-1] is None
    assert set(lines) <= {1, 2, 3, 4, None}
    assert len(lines) < 100  # not 400,000 events
    assert stdout(events) == f"{sum(range(200_000))}\n"


def test_long_cells_are_followed_by_sampling(python: PythonSession) -> None:
    code = (
        "import time\n"
        "start = time.monotonic()\n"
        "while time.monotonic() - start < 0.4: pass\n"
        "def spin(until):\n"
        "    while time.monotonic() - start < until: pass\n"
        "spin(0.8)\n"
        "time.sleep(0.3)\n"
        "done = True"
    )
    lines = [event.line for event in run(python, code) if isinstance(event, ActiveLine)]
    assert lines[:3] == [1, 2, 3]
    assert 6 in lines  # inside a long call, after the tracer has gone
    assert 7 in lines
    assert lines[-1] is None


def test_long_computations_run_at_full_speed(python: PythonSession) -> None:
    work = (
        "def work():\n    total = 0\n    for i in range(8_000_000):\n        total += i\n    return total\n"
    )
    run(python, work)
    timed = "import time\nstart = time.perf_counter()\nwork()\nprint(time.perf_counter() - start)"
    # The best of two runs each, to be fair on a busy machine.
    followed = min(float(stdout(run(python, timed))) for _ in range(2))
    untraced = min(float(stdout(run(python, "import sys\nsys.settrace(None)\n" + timed))) for _ in range(2))
    # Only the first 0.1 s runs under the tracer.
    assert followed < 1.5 * untraced + 0.4, (followed, untraced)


def test_active_line_reporting_stays_out_of_the_user_namespace(python: PythonSession) -> None:
    events = run(python, "print(sorted(name for name in globals() if 'mirastream' in name))")
    assert stdout(events) == "[]\n"


def test_input_is_not_available(python: PythonSession) -> None:
    events = run(python, "input('name? ')")
    assert finished(events).status == "error"
    assert "StdinNotImplementedError" in (finished(events).error or "")


# Async --------------------------------------------------------------------------------------


def test_async_execution_shows_values_active_lines_and_errors() -> None:
    async def main() -> None:
        async with PythonSession(Limits(timeout=20)) as session:
            events = await acollect(session.aexecute("n = 6 * 7\nn"))
            assert stdout(events) == "42\n"
            assert [event.line for event in events if isinstance(event, ActiveLine)] == [1, 2, None]
            events = await acollect(session.aexecute("1 / 0"))
            assert finished(events).error == "ZeroDivisionError: division by zero"
            assert "ZeroDivisionError" in stderr(events)

    asyncio.run(main())
