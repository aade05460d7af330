"""`PythonSession` against a real IPython kernel (one shared kernel where the test allows it)."""

from __future__ import annotations

import asyncio
import base64
import gc
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from mirastream.tools.execution import (
    ActiveLine,
    ExecutionEvent,
    Finished,
    Image,
    Limits,
    Output,
    PythonSession,
)

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


def run(session: PythonSession, code: str) -> list[ExecutionEvent]:
    return list(session.execute(code))


def stdout(events: list[ExecutionEvent]) -> str:
    return "".join(event.text for event in events if isinstance(event, Output) and event.stream == "stdout")


def stderr(events: list[ExecutionEvent]) -> str:
    return "".join(event.text for event in events if isinstance(event, Output) and event.stream == "stderr")


def finished(events: list[ExecutionEvent]) -> Finished:
    assert [type(event) for event in events].count(Finished) == 1
    last = events[-1]
    assert isinstance(last, Finished)
    return last


def gone(pid: int, *, group: bool = True, within: float = 5.0) -> bool:
    """Whether the process group (or process) `pid` no longer exists, waiting up to `within` s."""
    deadline = time.monotonic() + within
    while True:
        try:
            (os.killpg if group else os.kill)(pid, 0)
        except ProcessLookupError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def kernel_pid(session: PythonSession) -> int:
    [event] = [event for event in run(session, "import os; print(os.getpid())") if isinstance(event, Output)]
    return int(event.text)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def acollect(events: AsyncIterator[ExecutionEvent]) -> list[ExecutionEvent]:
    return [event async for event in events]


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


def test_output_is_streamed_as_it_is_produced(python: PythonSession) -> None:
    start = time.monotonic()
    arrivals = []
    for event in python.execute("import sys, time\nprint(1)\ntime.sleep(0.6)\nprint(2, file=sys.stderr)"):
        if isinstance(event, Output):
            arrivals.append((event.stream, event.text, time.monotonic() - start))
    assert [(stream, text) for stream, text, _ in arrivals] == [("stdout", "1\n"), ("stderr", "2\n")]
    first, second = arrivals[0][2], arrivals[1][2]
    assert first < 0.3, f"the first print took {first:.3f} s to arrive"
    assert second - first > 0.45


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


def test_output_flood_streams_completely_in_bounded_pieces(python: PythonSession) -> None:
    import tracemalloc

    total = pieces = largest = 0
    tracemalloc.start()
    try:
        for event in python.execute("for i in range(5000):\n    print('x' * 999)"):
            if isinstance(event, Output):
                total += len(event.text)
                pieces += 1
                largest = max(largest, len(event.text))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 5_000_000
    assert pieces > 10
    assert largest < 1_000_000
    assert peak < 2_500_000, f"the host held {peak} bytes at once"


def test_input_is_not_available(python: PythonSession) -> None:
    events = run(python, "input('name? ')")
    assert finished(events).status == "error"
    assert "StdinNotImplementedError" in (finished(events).error or "")


# Stopping code ------------------------------------------------------------------------------


def test_a_timeout_interrupts_and_the_session_goes_on() -> None:
    with PythonSession(Limits(timeout=1, grace=3)) as session:
        run(session, "kept = 'yes'")
        started = time.monotonic()
        events = run(session, "while True: pass")
        assert time.monotonic() - started < 3
        end = finished(events)
        assert end.status == "timeout"
        assert end.error == "timed out after 1 s and was interrupted"
        assert "KeyboardInterrupt" in stderr(events)
        assert stdout(run(session, "print(kept)")) == "yes\n"


def test_code_that_ignores_the_interrupt_is_killed_and_the_kernel_restarts() -> None:
    with PythonSession(Limits(timeout=1, grace=0.5)) as session:
        pid = kernel_pid(session)
        run(session, "lost = 1")
        events = run(session, "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass")
        end = finished(events)
        assert end.status == "timeout"
        assert "killed" in (end.error or "")
        assert "variables" in (end.error or "")
        assert gone(pid)
        assert not session.alive
        events = run(session, "print('lost' in globals())")
        assert isinstance(events[0], Output)
        assert "restarted" in events[0].text
        assert stdout(events) == "False\n"
        assert session.alive


def test_interrupt_from_another_thread() -> None:
    with PythonSession(Limits(timeout=20)) as session:
        session.start()
        timer = threading.Timer(0.5, session.interrupt)
        timer.start()
        try:
            events = run(session, "import time\ntime.sleep(30)")
        finally:
            timer.join()
        assert finished(events).status == "interrupted"
        assert finished(events).duration < 5
        session.interrupt()  # nothing runs: nothing happens
        assert stdout(run(session, "print('ok')")) == "ok\n"


def test_closing_the_iterator_early_stops_the_code(python: PythonSession) -> None:
    events = python.execute(
        "import time\nprint('started', flush=True)\ntime.sleep(30)\nran_to_the_end = True"
    )
    for event in events:
        if isinstance(event, Output):
            break
    started = time.monotonic()
    events.close()  # type: ignore[attr-defined]
    assert time.monotonic() - started < 3
    assert stdout(run(python, "print('ran_to_the_end' in globals())")) == "False\n"


def test_an_abandoned_iterator_is_stopped_by_the_next_execution(python: PythonSession) -> None:
    abandoned = python.execute("import time\nprint('go', flush=True)\ntime.sleep(30)\nfinished_anyway = True")
    next(event for event in abandoned if isinstance(event, Output))
    started = time.monotonic()
    assert stdout(run(python, "print('finished_anyway' in globals())")) == "False\n"
    assert time.monotonic() - started < 3
    assert list(abandoned) == []  # it was stopped; its consumer gets nothing more


# Limits and isolation -----------------------------------------------------------------------


def test_secrets_in_the_environment_do_not_reach_the_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    code = "import os; print(os.environ.get('OPENAI_API_KEY'))"
    with PythonSession() as session:
        assert stdout(run(session, code)) == "None\n"
    with PythonSession(Limits(keep_env=["OPENAI_API_KEY"])) as session:
        assert stdout(run(session, code)) == "sk-secret\n"


def test_the_workdir_is_a_temporary_folder_removed_on_close() -> None:
    session = PythonSession()
    events = run(session, "import os; open('made.txt', 'w').write('x'); print(os.getcwd())")
    workdir = Path(stdout(events).strip())
    assert str(workdir) == session.workdir
    assert (workdir / "made.txt").exists()
    assert Path(os.environ.get("TMPDIR", "/tmp")).resolve() in workdir.resolve().parents
    session.close()
    assert not workdir.exists()


def test_a_given_workdir_is_used_and_kept(tmp_path: Path) -> None:
    with PythonSession(Limits(workdir=tmp_path / "project")) as session:
        run(session, "open('kept.txt', 'w').write('x')")
    assert (tmp_path / "project" / "kept.txt").exists()


# Cleanup ------------------------------------------------------------------------------------


def test_start_close_cycles_leak_no_processes_fds_or_threads() -> None:
    def cycle() -> int:
        session = PythonSession()
        session.start()
        pid = session._resources.child.pid  # type: ignore[union-attr]
        session.close()
        session.close()  # idempotent
        assert not session.alive
        return pid

    cycle()  # the first start imports and caches what later ones reuse
    fds, threads = open_fds(), threading.active_count()
    pids = [cycle() for _ in range(20)]
    assert all(gone(pid, within=0) for pid in pids)
    assert open_fds() == fds
    assert threading.active_count() == threads


def test_closing_mid_execution_kills_everything_it_started() -> None:
    session = PythonSession()
    events = session.execute(
        "import os, subprocess, time\n"
        "child = subprocess.Popen(['sleep', '60'])\n"
        "print(os.getpid(), child.pid, flush=True)\n"
        "time.sleep(60)"
    )
    first = next(event for event in events if isinstance(event, Output))
    kernel, grandchild = map(int, first.text.split())
    session.close()
    assert gone(kernel)
    assert gone(grandchild, group=False)
    end = [event for event in events if isinstance(event, Finished)]
    assert [event.status for event in end] == ["killed"]
    assert "closed" in (end[0].error or "")


def test_a_session_dropped_without_close_leaves_no_process() -> None:
    session = PythonSession()
    pid = kernel_pid(session)
    workdir = Path(session.workdir or "")
    del session
    gc.collect()
    assert gone(pid)
    assert not workdir.exists()


def test_the_sync_api_inside_a_running_event_loop_starts_no_thread() -> None:
    async def main() -> None:
        threads = threading.active_count()
        with PythonSession() as session:  # blocks the loop, as any sync call would
            assert stdout(run(session, "print('from inside a loop')")) == "from inside a loop\n"
        assert threading.active_count() == threads

    asyncio.run(main())


def test_one_world_per_session() -> None:
    async def main() -> None:
        session = PythonSession()
        await session.astart()
        try:
            with pytest.raises(RuntimeError, match="one world"):
                session.start()
        finally:
            await session.aclose()

    asyncio.run(main())


# Async --------------------------------------------------------------------------------------


def test_an_async_session_belongs_to_one_event_loop() -> None:
    session = PythonSession()

    async def first() -> int:
        return kernel_pid_of(await acollect(session.aexecute("import os; print(os.getpid())")))

    async def second() -> None:
        with pytest.raises(RuntimeError, match="another event loop"):
            await acollect(session.aexecute("1"))
        await session.aclose()

    pid = asyncio.run(first())
    asyncio.run(second())
    assert gone(pid)
    assert not session.alive


def kernel_pid_of(events: list[ExecutionEvent]) -> int:
    return int(stdout(events))


def test_async_session_runs_streams_and_times_out() -> None:
    async def main() -> None:
        async with PythonSession(Limits(timeout=1, grace=2)) as session:
            await session.astart()
            await session.astart()  # idempotent
            assert session.alive
            events = await acollect(session.aexecute("n = 6 * 7\nn"))
            assert stdout(events) == "42\n"
            assert [event.line for event in events if isinstance(event, ActiveLine)] == [1, 2, None]

            start, arrivals = time.monotonic(), []
            async for event in session.aexecute("import time\nprint(1)\ntime.sleep(0.5)\nprint(2)"):
                if isinstance(event, Output):
                    arrivals.append(time.monotonic() - start)
            assert arrivals[0] < 0.3
            assert arrivals[1] - arrivals[0] > 0.4

            events = await acollect(session.aexecute("1 / 0"))
            assert finished(events).error == "ZeroDivisionError: division by zero"

            events = await acollect(session.aexecute("while True: pass"))
            assert finished(events).status == "timeout"
            assert stdout(await acollect(session.aexecute("print(n)"))) == "42\n"

    asyncio.run(main())


def test_cancelling_an_aexecute_task_stops_the_code() -> None:
    async def main() -> None:
        async with PythonSession(Limits(timeout=20)) as session:
            started = asyncio.Event()

            async def consume() -> None:
                code = "import time\nprint('go', flush=True)\ntime.sleep(30)\nfinished_anyway = True"
                async for event in session.aexecute(code):
                    if isinstance(event, Output):
                        started.set()

            task = asyncio.create_task(consume())
            await asyncio.wait_for(started.wait(), 20)
            cancelled_at = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert time.monotonic() - cancelled_at < 3
            events = await acollect(session.aexecute("print('finished_anyway' in globals())"))
            assert stdout(events) == "False\n"

    asyncio.run(main())


def test_async_close_mid_execution_and_cycles_leak_nothing() -> None:
    async def cycle() -> int:
        session = PythonSession()
        events = session.aexecute("import time\nprint('go', flush=True)\ntime.sleep(30)")
        async for event in events:
            if isinstance(event, Output):
                break
        pid = session._resources.child.pid  # type: ignore[union-attr]
        await session.aclose()
        await session.aclose()  # idempotent
        rest = [event async for event in events]
        assert rest[:-1] == [ActiveLine(None)]
        assert isinstance(rest[-1], Finished)
        assert rest[-1].status == "killed"
        return pid

    async def main() -> None:
        await cycle()
        fds, threads = open_fds(), threading.active_count()
        pids = [await cycle() for _ in range(3)]
        assert all(gone(pid, within=0) for pid in pids)
        assert open_fds() == fds
        assert threading.active_count() == threads

    asyncio.run(main())
