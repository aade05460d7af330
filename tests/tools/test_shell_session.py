"""`ShellSession` against a real `bash` (and `sh`)."""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import threading
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from mirastream.tools.execution import ExecutionEvent, Finished, Limits, Output, ShellSession

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


@pytest.fixture(scope="module")
def shell() -> Iterator[ShellSession]:
    with ShellSession(Limits(timeout=20)) as session:
        session.start()
        yield session


def run(session: ShellSession, code: str) -> list[ExecutionEvent]:
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


def shell_pid(session: ShellSession) -> int:
    return int(stdout(run(session, "echo $$")))


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def threads_settle(expected: int, within: float = 2.0) -> int:
    # asyncio's child watcher (Python < 3.12) ends its waitpid thread just after the exit.
    deadline = time.monotonic() + within
    while threading.active_count() != expected and time.monotonic() < deadline:
        time.sleep(0.01)
    return threading.active_count()


# Running code -----------------------------------------------------------------------------


def test_state_persists_between_executions(shell: ShellSession, tmp_path: Path) -> None:
    assert (
        finished(run(shell, f'cd {tmp_path} && GREETING=hi && greet() {{ echo "$GREETING $1"; }}')).status
        == "ok"
    )
    events = run(shell, "greet world; pwd")
    assert stdout(events) == f"hi world\n{tmp_path}\n"


def test_status_and_streams(shell: ShellSession) -> None:
    events = run(
        shell, "echo out; echo err >&2; printf 'no newline'; exit_with() { return $1; }; exit_with 3"
    )
    assert stdout(events) == "out\nno newline"
    assert stderr(events) == "err\n"
    end = finished(events)
    assert (end.status, end.error) == ("error", "exit status 3")
    assert finished(run(shell, "")).status == "ok"


def test_output_is_streamed_as_it_is_produced(shell: ShellSession) -> None:
    start = time.monotonic()
    arrivals = []
    for event in shell.execute("echo 1; sleep 0.6; echo 2 >&2"):
        if isinstance(event, Output):
            arrivals.append((event.stream, event.text, time.monotonic() - start))
    assert [(stream, text) for stream, text, _ in arrivals] == [("stdout", "1\n"), ("stderr", "2\n")]
    assert arrivals[0][2] < 0.3
    assert arrivals[1][2] - arrivals[0][2] > 0.45


def test_unterminated_heredoc_and_quote_do_not_hang(shell: ShellSession) -> None:
    started = time.monotonic()
    heredoc = run(shell, "cat <<EOF\nhello")
    assert stdout(heredoc) == "hello\n"
    quote = run(shell, 'echo "abc\necho next')
    assert finished(quote).status == "error"
    assert "unexpected EOF" in stderr(quote)
    assert time.monotonic() - started < 2
    assert stdout(run(shell, "echo fine")) == "fine\n"


def test_read_gets_end_of_file_not_the_control_lines(shell: ShellSession) -> None:
    events = run(shell, 'read line; echo "[$line] $?"; cat; echo after')
    assert stdout(events) == "[] 1\nafter\n"


def test_code_cannot_end_its_execution_early_by_printing(shell: ShellSession) -> None:
    events = run(shell, r"printf '\036mirastream-not-the-nonce\036%d\n' 0; echo real end")
    assert stdout(events) == "\x1emirastream-not-the-nonce\x1e0\nreal end\n"


def test_exit_ends_the_shell_and_the_next_execution_starts_a_new_one() -> None:
    with ShellSession() as session:
        run(session, "LOST=yes")
        pid = shell_pid(session)
        end = finished(run(session, "exit 4"))
        assert end.status == "error"
        assert (end.error or "").startswith("exit status 4; the shell exited")
        assert gone(pid)
        events = run(session, 'echo "[$LOST]"')
        assert "restarted" in stderr(events)
        assert stdout(events) == "[]\n"


def test_output_flood_streams_completely_in_bounded_pieces(shell: ShellSession) -> None:
    total = pieces = 0
    tracemalloc.start()
    try:
        for event in shell.execute("head -c 5000000 /dev/zero | tr '\\0' x"):
            if isinstance(event, Output):
                total += len(event.text)
                pieces += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 5_000_000
    assert pieces > 10
    assert peak < 1_000_000, f"the host held {peak} bytes at once"


# Stopping code ------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["sleep 30", "while true; do :; done", "while true; do sleep 1; done"])
def test_a_timeout_interrupts_and_the_shell_goes_on(code: str) -> None:
    with ShellSession(Limits(timeout=0.5, grace=3)) as session:
        run(session, "cd /; KEPT=yes")
        started = time.monotonic()
        end = finished(run(session, code))
        assert time.monotonic() - started < 2.5
        assert (end.status, end.error) == ("timeout", "timed out after 0.5 s and was interrupted")
        assert stdout(run(session, 'echo "$KEPT $PWD"')) == "yes /\n"


def test_code_that_ignores_the_interrupt_is_killed_and_the_shell_restarts() -> None:
    with ShellSession(Limits(timeout=0.5, grace=0.5)) as session:
        pid = shell_pid(session)
        end = finished(run(session, "trap '' INT; sleep 30"))
        assert end.status == "timeout"
        assert "killed" in (end.error or "")
        assert gone(pid)
        events = run(session, "echo again")
        assert "restarted" in stderr(events)
        assert stdout(events) == "again\n"


def test_interrupt_from_another_thread() -> None:
    with ShellSession(Limits(timeout=20)) as session:
        session.start()
        timer = threading.Timer(0.3, session.interrupt)
        timer.start()
        try:
            end = finished(run(session, "sleep 30"))
        finally:
            timer.join()
        assert (end.status, end.error) == ("interrupted", "interrupted (exit status 130)")
        assert end.duration < 3


def test_closing_the_iterator_early_stops_the_code(shell: ShellSession, tmp_path: Path) -> None:
    marker = tmp_path / "ran-to-the-end"
    events = shell.execute(f"echo started; sleep 30; touch {marker}")
    next(event for event in events if isinstance(event, Output))
    started = time.monotonic()
    events.close()  # type: ignore[attr-defined]
    assert time.monotonic() - started < 3
    assert stdout(run(shell, "echo usable")) == "usable\n"
    assert not marker.exists()


# Isolation ----------------------------------------------------------------------------------


def test_secrets_in_the_environment_do_not_reach_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-secret")
    with ShellSession() as session:
        assert stdout(run(session, 'echo "[$OPENAI_API_KEY][$GITHUB_TOKEN]"')) == "[][]\n"
    with ShellSession(Limits(keep_env=["OPENAI_API_KEY"])) as session:
        assert stdout(run(session, 'echo "[$OPENAI_API_KEY][$GITHUB_TOKEN]"')) == "[sk-secret][]\n"


def test_an_explicit_environment_is_used_as_given() -> None:
    with ShellSession(Limits(env={"ONLY": "this"})) as session:
        names = set(stdout(run(session, "env | cut -d= -f1")).split())
    # What the shell sets itself, and MALLOC_ARENA_MAX from the memory limit.
    assert names <= {"ONLY", "PATH", "HOME", "LANG", "PWD", "SHLVL", "_", "OLDPWD", "MALLOC_ARENA_MAX"}
    assert "ONLY" in names


def test_home_and_workdir_are_private_temporary_folders() -> None:
    session = ShellSession()
    home, workdir = stdout(run(session, "echo $HOME; pwd")).split()
    assert workdir == session.workdir
    assert home != os.path.expanduser("~")
    assert not os.listdir(home)
    session.close()
    assert not Path(workdir).exists()
    assert not Path(home).exists()


def test_sh_is_used_when_there_is_no_bash(tmp_path: Path) -> None:
    sh = shutil.which("sh")
    if sh is None or Path(sh).resolve() == Path(shutil.which("bash") or "").resolve():
        pytest.skip("needs an sh that is not bash")
    (tmp_path / "sh").symlink_to(sh)
    with ShellSession(Limits(timeout=0.5, grace=2, env={"PATH": str(tmp_path)})) as session:
        events = run(session, 'X=1; echo "$X"\necho "unterminated')
        assert stdout(events) == "1\n"
        assert finished(events).status == "error"
        assert finished(run(session, "while true; do :; done")).status == "timeout"
        assert stdout(run(session, 'echo "$X $0"')) == f"1 {tmp_path / 'sh'}\n"


# Cleanup ------------------------------------------------------------------------------------


def test_start_close_cycles_leak_no_processes_fds_or_threads() -> None:
    def cycle() -> int:
        session = ShellSession()
        session.start()
        pid = shell_pid(session)
        session.close()
        session.close()  # idempotent
        assert not session.alive
        return pid

    cycle()
    fds, threads = open_fds(), threading.active_count()
    pids = [cycle() for _ in range(20)]
    assert all(gone(pid, within=0) for pid in pids)
    assert open_fds() == fds
    assert threading.active_count() == threads


def test_closing_mid_execution_kills_background_jobs_too() -> None:
    session = ShellSession()
    events = session.execute("sleep 60 & echo $$ $!; sleep 60")
    first = next(event for event in events if isinstance(event, Output))
    pid, job = map(int, first.text.split())
    session.close()
    assert gone(pid)
    assert gone(job, group=False)
    [end] = list(events)
    assert isinstance(end, Finished)
    assert end.status == "killed"


def test_close_from_another_thread_ends_the_running_execution() -> None:
    session = ShellSession()
    pid = shell_pid(session)
    closer = threading.Timer(0.3, session.close)
    closer.start()
    try:
        end = finished(run(session, "sleep 30"))
    finally:
        closer.join()
    assert end.status == "killed"
    assert "closed" in (end.error or "")
    assert end.duration < 3
    assert gone(pid)


def test_a_session_dropped_without_close_leaves_no_process() -> None:
    session = ShellSession()
    pid = shell_pid(session)
    del session
    gc.collect()
    assert gone(pid)


# Async --------------------------------------------------------------------------------------


async def acollect(events: AsyncIterator[ExecutionEvent]) -> list[ExecutionEvent]:
    return [event async for event in events]


def test_async_session_runs_streams_and_times_out() -> None:
    async def main() -> None:
        async with ShellSession(Limits(timeout=1.5, grace=2)) as session:
            assert stdout(await acollect(session.aexecute("cd /; X=42"))) == ""
            start, arrivals = time.monotonic(), []
            async for event in session.aexecute("echo 1; sleep 0.5; echo 2"):
                if isinstance(event, Output):
                    arrivals.append(time.monotonic() - start)
            assert arrivals[0] < 0.3
            assert arrivals[1] - arrivals[0] > 0.35
            end = finished(await acollect(session.aexecute("sleep 30")))
            assert end.status == "timeout"
            assert stdout(await acollect(session.aexecute("echo $X $PWD"))) == "42 /\n"
            assert finished(await acollect(session.aexecute("exit 2"))).status == "error"
            assert stdout(await acollect(session.aexecute("echo back"))) == "back\n"

    asyncio.run(main())


def test_cancelling_an_aexecute_task_stops_the_code(tmp_path: Path) -> None:
    marker = tmp_path / "ran-to-the-end"

    async def main() -> None:
        async with ShellSession(Limits(timeout=20)) as session:
            started = asyncio.Event()

            async def consume() -> None:
                async for event in session.aexecute(f"echo go; sleep 30; touch {marker}"):
                    if isinstance(event, Output):
                        started.set()

            task = asyncio.create_task(consume())
            await asyncio.wait_for(started.wait(), 10)
            cancelled_at = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert time.monotonic() - cancelled_at < 3
            assert stdout(await acollect(session.aexecute("echo usable"))) == "usable\n"

    asyncio.run(main())
    assert not marker.exists()


def test_an_async_session_belongs_to_one_event_loop() -> None:
    session = ShellSession()

    async def first() -> int:
        return int(stdout(await acollect(session.aexecute("echo $$"))))

    async def second() -> None:
        with pytest.raises(RuntimeError, match="another event loop"):
            await acollect(session.aexecute("echo again"))
        await session.aclose()

    pid = asyncio.run(first())
    asyncio.run(second())
    assert gone(pid)
    assert not session.alive


def test_async_cycles_and_close_mid_execution_leak_nothing() -> None:
    async def cycle() -> int:
        session = ShellSession()
        events = session.aexecute("echo $$; sleep 30")
        first = None
        async for event in events:
            if isinstance(event, Output):
                first = event
                break
        assert isinstance(first, Output)
        await session.aclose()
        await session.aclose()  # idempotent
        assert [type(event) for event in await acollect(events)] == [Finished]
        return int(first.text)

    async def main() -> None:
        await cycle()
        fds, threads = open_fds(), threading.active_count()
        pids = [await cycle() for _ in range(20)]
        # The shells are reaped; their killed `sleep`s are orphans that init reaps.
        assert all(gone(pid) for pid in pids)
        assert open_fds() == fds
        assert threads_settle(threads) == threads

    asyncio.run(main())
