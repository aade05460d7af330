"""What every session does, checked against both kinds: a real IPython kernel and a real `bash`.

Streaming, stopping code (timeout, interrupt, an iterator closed or abandoned, a task
cancelled), restarting a child that died, isolation, and cleanup (close, drop, cycles), in
both worlds. `session_helpers.Kind` says each kind's code for it.
"""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from mirastream.tools.execution import Finished, Limits, Output

from .session_helpers import (
    KINDS,
    LOOPS,
    AnySession,
    Kind,
    acollect,
    calling_after,
    finished,
    gone,
    open_fds,
    run,
    stderr,
    stdout,
    threads_settle,
)


@pytest.fixture(scope="module", params=KINDS)
def kind(request: pytest.FixtureRequest) -> Kind:
    assert isinstance(request.param, Kind)
    return request.param


@pytest.fixture(scope="module")
def session(kind: Kind) -> Iterator[AnySession]:
    """One started session of the kind, shared by the tests that leave it usable."""
    with kind.session(Limits(timeout=20)) as started:
        started.start()
        yield started


def child_pid(kind: Kind, session: AnySession) -> int:
    return int(stdout(run(session, kind.pid)))


# Running code -----------------------------------------------------------------------------


def test_output_is_streamed_as_it_is_produced(kind: Kind, session: AnySession) -> None:
    start = time.monotonic()
    arrivals = []
    for event in session.execute("\n".join([kind.say("1"), kind.sleep(0.6), kind.warn("2")])):
        if isinstance(event, Output):
            arrivals.append((event.stream, event.text, time.monotonic() - start))
    assert [(stream, text) for stream, text, _ in arrivals] == [("stdout", "1\n"), ("stderr", "2\n")]
    first, second = arrivals[0][2], arrivals[1][2]
    assert first < 0.3, f"the first line took {first:.3f} s to arrive"
    assert second - first > 0.45


def test_output_flood_streams_completely_in_bounded_pieces(kind: Kind, session: AnySession) -> None:
    total = pieces = largest = 0
    tracemalloc.start()
    try:
        for event in session.execute(kind.flood):
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
    assert peak < kind.flood_peak, f"the host held {peak} bytes at once"


# Stopping code ------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "loop"), LOOPS)
def test_a_timeout_interrupts_and_the_session_goes_on(kind: Kind, loop: str) -> None:
    with kind.session(Limits(timeout=0.5, grace=3)) as session:
        run(session, kind.set_state)
        started = time.monotonic()
        events = run(session, loop)
        assert time.monotonic() - started < 2.5
        end = finished(events)
        assert (end.status, end.error) == ("timeout", "timed out after 0.5 s and was interrupted")
        assert kind.interrupt_note in stderr(events)
        assert stdout(run(session, kind.read_state)) == kind.kept


def test_code_that_ignores_the_interrupt_is_killed_and_the_child_restarts(kind: Kind) -> None:
    with kind.session(Limits(timeout=0.5, grace=0.5)) as session:
        pid = child_pid(kind, session)
        run(session, kind.set_state)
        end = finished(run(session, kind.deaf))
        assert end.status == "timeout"
        assert "killed" in (end.error or "")
        assert "variables" in (end.error or "")  # what the restart loses
        assert gone(pid)
        assert not session.alive
        events = run(session, kind.read_state)
        assert isinstance(events[0], Output)
        assert events[0].stream == "stderr"
        assert "restarted" in events[0].text
        assert stdout(events) == kind.lost(session)
        assert session.alive


def test_interrupt_from_another_thread(kind: Kind) -> None:
    with kind.session(Limits(timeout=20)) as session:
        session.start()
        with calling_after(0.3, session.interrupt):
            end = finished(run(session, kind.sleep(30)))
        assert (end.status, end.error) == ("interrupted", kind.interrupted_error)
        assert end.duration < 3
        session.interrupt()  # nothing runs: nothing happens
        assert stdout(run(session, kind.say("ok"))) == "ok\n"


def test_closing_the_iterator_early_stops_the_code(kind: Kind, session: AnySession, tmp_path: Path) -> None:
    marker = tmp_path / "ran-to-the-end"
    events = session.execute(kind.busy(marker))
    next(event for event in events if isinstance(event, Output))
    started = time.monotonic()
    events.close()  # type: ignore[attr-defined]
    assert time.monotonic() - started < 3
    assert stdout(run(session, kind.say("usable"))) == "usable\n"
    assert not marker.exists()


def test_an_abandoned_iterator_is_stopped_by_the_next_execution(
    kind: Kind, session: AnySession, tmp_path: Path
) -> None:
    marker = tmp_path / "ran-to-the-end"
    abandoned = session.execute(kind.busy(marker))
    next(event for event in abandoned if isinstance(event, Output))
    started = time.monotonic()
    assert stdout(run(session, kind.say("usable"))) == "usable\n"
    assert time.monotonic() - started < 3
    assert list(abandoned) == []  # it was stopped; its consumer gets nothing more
    assert not marker.exists()


# Isolation ----------------------------------------------------------------------------------


def test_secrets_in_the_environment_do_not_reach_the_child(
    kind: Kind, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-secret")
    with kind.session() as session:
        assert stdout(run(session, kind.secrets)) == "[][]\n"
    with kind.session(Limits(keep_env=["OPENAI_API_KEY"])) as session:
        assert stdout(run(session, kind.secrets)) == "[sk-secret][]\n"


def test_home_and_workdir_are_private_temporary_folders_removed_on_close(kind: Kind) -> None:
    session = kind.session()
    home, workdir = map(Path, stdout(run(session, kind.where)).split())
    assert str(workdir) == session.workdir
    assert (workdir / "made.txt").exists()
    assert Path(os.environ.get("TMPDIR", "/tmp")).resolve() in workdir.resolve().parents
    assert home != Path("~").expanduser()
    assert set(os.listdir(home)) <= kind.home_files
    session.close()
    assert not workdir.exists()
    assert not home.exists()


def test_a_given_workdir_is_used_and_kept(kind: Kind, tmp_path: Path) -> None:
    with kind.session(Limits(workdir=tmp_path / "project")) as session:
        run(session, kind.touch(Path("kept.txt")))
    assert (tmp_path / "project" / "kept.txt").exists()


# Cleanup ------------------------------------------------------------------------------------


def test_start_close_cycles_leak_no_processes_fds_or_threads(kind: Kind) -> None:
    def cycle() -> int:
        session = kind.session()
        session.start()
        pid = child_pid(kind, session)
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


def test_closing_mid_execution_kills_everything_it_started(kind: Kind) -> None:
    # The pids the code prints are the host's only outside a sandbox (inside one, see
    # test_containment: the sandbox ends as a whole).
    session = kind.session(sandbox=False)
    events = session.execute(kind.spawn)
    first = next(event for event in events if isinstance(event, Output))
    pid, grandchild = map(int, first.text.split())
    session.close()
    assert gone(pid)
    assert gone(grandchild, group=False)
    *rest, end = list(events)
    assert tuple(rest) == kind.held_back
    assert isinstance(end, Finished)
    assert end.status == "killed"
    assert "closed" in (end.error or "")


def test_close_from_another_thread_ends_the_running_execution(kind: Kind) -> None:
    session = kind.session()
    pid = child_pid(kind, session)
    with calling_after(0.3, session.close):
        end = finished(run(session, kind.sleep(30)))
    assert end.status == "killed"
    assert "closed" in (end.error or "")
    assert end.duration < 3
    assert gone(pid)


def test_a_session_dropped_without_close_leaves_no_process(kind: Kind) -> None:
    session = kind.session()
    pid = child_pid(kind, session)
    workdir = Path(session.workdir or "")
    del session
    gc.collect()
    assert gone(pid)
    assert not workdir.exists()


def test_the_sync_api_inside_a_running_event_loop_starts_no_thread(kind: Kind) -> None:
    async def main() -> None:
        threads = threading.active_count()
        with kind.session() as session:  # blocks the loop, as any sync call would
            assert stdout(run(session, kind.say("from inside a loop"))) == "from inside a loop\n"
        assert threading.active_count() == threads

    asyncio.run(main())


def test_one_world_per_session(kind: Kind) -> None:
    async def main() -> None:
        session = kind.session()
        await session.astart()
        try:
            with pytest.raises(RuntimeError, match="one world"):
                session.start()
        finally:
            await session.aclose()

    asyncio.run(main())


# Async --------------------------------------------------------------------------------------


def test_an_async_session_belongs_to_one_event_loop(kind: Kind) -> None:
    session = kind.session()

    async def first() -> int:
        return int(stdout(await acollect(session.aexecute(kind.pid))))

    async def second() -> None:
        with pytest.raises(RuntimeError, match="another event loop"):
            await acollect(session.aexecute(kind.say("again")))
        await session.aclose()

    pid = asyncio.run(first())
    asyncio.run(second())
    assert gone(pid)
    assert not session.alive


def test_async_session_runs_streams_and_times_out(kind: Kind) -> None:
    async def main() -> None:
        async with kind.session(Limits(timeout=1.5, grace=2)) as session:
            await session.astart()
            await session.astart()  # idempotent
            assert session.alive
            assert stdout(await acollect(session.aexecute(kind.set_state))) == ""
            start, arrivals = time.monotonic(), []
            async for event in session.aexecute("\n".join([kind.say("1"), kind.sleep(0.5), kind.say("2")])):
                if isinstance(event, Output):
                    arrivals.append(time.monotonic() - start)
            assert arrivals[0] < 0.3
            assert arrivals[1] - arrivals[0] > 0.4
            end = finished(await acollect(session.aexecute(kind.loops[0])))
            assert end.status == "timeout"
            assert stdout(await acollect(session.aexecute(kind.read_state))) == kind.kept

    asyncio.run(main())


def test_cancelling_an_aexecute_task_stops_the_code(kind: Kind, tmp_path: Path) -> None:
    marker = tmp_path / "ran-to-the-end"

    async def main() -> None:
        async with kind.session(Limits(timeout=20)) as session:
            started = asyncio.Event()

            async def consume() -> None:
                async for event in session.aexecute(kind.busy(marker)):
                    if isinstance(event, Output):
                        started.set()

            task = asyncio.create_task(consume())
            await asyncio.wait_for(started.wait(), 20)
            cancelled_at = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert time.monotonic() - cancelled_at < 3
            assert stdout(await acollect(session.aexecute(kind.say("usable")))) == "usable\n"

    asyncio.run(main())
    assert not marker.exists()


def test_async_close_mid_execution_and_cycles_leak_nothing(kind: Kind) -> None:
    async def cycle() -> int:
        session = kind.session(sandbox=False)  # host pids (see above)
        events = session.aexecute("\n".join([kind.pid, kind.sleep(30)]))
        first = None
        async for event in events:
            if isinstance(event, Output):
                first = event
                break
        assert isinstance(first, Output)
        await session.aclose()
        await session.aclose()  # idempotent
        *rest, end = await acollect(events)
        assert tuple(rest) == kind.held_back
        assert isinstance(end, Finished)
        assert end.status == "killed"
        return int(first.text)

    async def main() -> None:
        await cycle()
        fds, threads = open_fds(), threading.active_count()
        pids = [await cycle() for _ in range(kind.async_cycles)]
        assert all(gone(pid, group=False, within=0) for pid in pids)  # each child was reaped by aclose()
        # The whole groups end too (a shell's killed `sleep` is an orphan that init reaps).
        assert all(gone(pid) for pid in pids)
        assert open_fds() == fds
        assert threads_settle(threads) == threads

    asyncio.run(main())
