"""`ShellSession` against a real `bash` (and `sh`): what only a shell session does.

What every session does is checked against both kinds in `test_session_lifecycle.py`.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mirastream.tools.execution import Limits, ShellSession

from .session_helpers import acollect, finished, gone, run, stderr, stdout

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


@pytest.fixture(scope="module")
def shell() -> Iterator[ShellSession]:
    with ShellSession(Limits(timeout=20)) as session:
        session.start()
        yield session


# Running code -----------------------------------------------------------------------------


def test_state_persists_between_executions(shell: ShellSession) -> None:
    assert (
        finished(run(shell, 'mkdir sub && cd sub && GREETING=hi && greet() { echo "$GREETING $1"; }')).status
        == "ok"
    )
    events = run(shell, "greet world; pwd")
    assert stdout(events) == f"hi world\n{shell.workdir}/sub\n"


def test_status_and_streams(shell: ShellSession) -> None:
    events = run(
        shell, "echo out; echo err >&2; printf 'no newline'; exit_with() { return $1; }; exit_with 3"
    )
    assert stdout(events) == "out\nno newline"
    assert stderr(events) == "err\n"
    end = finished(events)
    assert (end.status, end.error) == ("error", "exit status 3")
    assert finished(run(shell, "")).status == "ok"


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
        pid = int(stdout(run(session, "echo $$")))
        end = finished(run(session, "exit 4"))
        assert end.status == "error"
        assert (end.error or "").startswith("exit status 4; the shell exited")
        assert gone(pid)
        events = run(session, 'echo "[$LOST]"')
        assert "restarted" in stderr(events)
        assert stdout(events) == "[]\n"


# Environment --------------------------------------------------------------------------------


def test_an_explicit_environment_is_used_as_given() -> None:
    with ShellSession(Limits(env={"ONLY": "this"})) as session:
        names = set(stdout(run(session, "env | cut -d= -f1")).split())
    # What the shell sets itself, and MALLOC_ARENA_MAX from the memory limit.
    assert names <= {"ONLY", "PATH", "HOME", "LANG", "PWD", "SHLVL", "_", "OLDPWD", "MALLOC_ARENA_MAX"}
    assert "ONLY" in names


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


# Async --------------------------------------------------------------------------------------


def test_exit_in_an_async_session_starts_a_new_shell() -> None:
    async def main() -> None:
        async with ShellSession(Limits(timeout=20)) as session:
            assert finished(await acollect(session.aexecute("KEPT=yes"))).status == "ok"
            end = finished(await acollect(session.aexecute("exit 2")))
            assert end.status == "error"
            assert (end.error or "").startswith("exit status 2; the shell exited")
            events = await acollect(session.aexecute('echo "[$KEPT] back"'))
            assert "restarted" in stderr(events)
            assert stdout(events) == "[] back\n"

    asyncio.run(main())
