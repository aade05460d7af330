"""The IO-free parts of the execution layer: decoders, run control, environment, flows."""

from __future__ import annotations

import asyncio
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mirastream.errors import ConfigurationError
from mirastream.tools.execution import ActiveLine, Finished, Image, Limits, Output
from mirastream.tools.execution._control import POLL, RunControl
from mirastream.tools.execution._environment import child_environment, looks_secret
from mirastream.tools.execution._flow import Cancelled, Emit, Flow, Receive, astream, stream
from mirastream.tools.execution._jupyter_decode import JupyterDecoder, strip_ansi
from mirastream.tools.execution._kernel_bootstrap import ACTIVE_LINE_MIME, BOOTSTRAP
from mirastream.tools.execution._shell_decode import ShellDecoder, new_marker, run_line

# Jupyter --------------------------------------------------------------------------------


def message(msg_type: str, content: dict[str, Any], parent: str = "run-1") -> dict[str, Any]:
    return {
        "header": {"msg_type": msg_type, "msg_id": "x"},
        "msg_type": msg_type,
        "parent_header": {"msg_id": parent},
        "content": content,
    }


IDLE = message("status", {"execution_state": "idle"})


def test_jupyter_stream_and_result_messages_become_output() -> None:
    decoder = JupyterDecoder("run-1")
    assert decoder.feed(message("status", {"execution_state": "busy"})) == []
    assert decoder.feed(message("execute_input", {"code": "x"})) == []
    assert decoder.feed(message("stream", {"name": "stdout", "text": "hi\n"})) == [Output("stdout", "hi\n")]
    assert decoder.feed(message("stream", {"name": "stderr", "text": "warn\n"})) == [
        Output("stderr", "warn\n")
    ]
    assert decoder.feed(message("stream", {"name": "stdout", "text": ""})) == []
    result = message("execute_result", {"data": {"text/plain": "1.4166666666666667"}, "execution_count": 1})
    assert decoder.feed(result) == [Output("stdout", "1.4166666666666667\n")]
    assert not decoder.done
    assert decoder.feed(IDLE) == []
    assert decoder.done
    assert decoder.status == "ok"
    assert decoder.error is None
    assert decoder.finish() == []  # no active line was reported


def test_jupyter_messages_of_other_requests_are_ignored() -> None:
    decoder = JupyterDecoder("run-1")
    other = message("stream", {"name": "stdout", "text": "late output of an earlier run\n"}, parent="run-0")
    assert decoder.feed(other) == []
    assert decoder.feed(message("status", {"execution_state": "idle"}, parent="run-0")) == []
    assert not decoder.done
    decoder.feed(IDLE)
    assert decoder.feed(message("stream", {"name": "stdout", "text": "after idle"})) == []


def test_jupyter_error_is_a_plain_traceback_and_the_status() -> None:
    decoder = JupyterDecoder("run-1")
    traceback = [
        "\x1b[0;31m---------------------------------------------------------------------------\x1b[0m",
        "\x1b[0;31mZeroDivisionError\x1b[0m                         Traceback (most recent call last)",
        "Cell \x1b[0;32mIn[4], line 1\x1b[0m\n"
        "\x1b[0;32m----> 1\x1b[0m \x1b[38;5;241m1\x1b[39m/\x1b[38;5;241m0\x1b[39m",
        "\x1b[0;31mZeroDivisionError\x1b[0m: division by zero",
    ]
    content = {"ename": "ZeroDivisionError", "evalue": "division by zero", "traceback": traceback}
    [event] = decoder.feed(message("error", content))
    assert isinstance(event, Output)
    assert event.stream == "stderr"
    assert "\x1b" not in event.text
    assert "----> 1 1/0" in event.text
    assert event.text.endswith("ZeroDivisionError: division by zero\n")
    decoder.feed(IDLE)
    assert decoder.status == "error"
    assert decoder.error == "ZeroDivisionError: division by zero"


def test_jupyter_error_without_value_names_the_exception() -> None:
    decoder = JupyterDecoder("run-1")
    decoder.feed(message("error", {"ename": "KeyboardInterrupt", "evalue": "", "traceback": []}))
    assert decoder.error == "KeyboardInterrupt"


def test_jupyter_execute_reply_carries_the_error_when_iopub_lost_it() -> None:
    decoder = JupyterDecoder("run-1")
    reply = message("execute_reply", {"status": "error", "ename": "ValueError", "evalue": "bad"})
    decoder.feed_reply(message("execute_reply", {"status": "ok"}, parent="run-0"))
    assert not decoder.replied
    decoder.feed_reply(reply)
    assert decoder.replied
    assert decoder.error == "ValueError: bad"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"image/png": "iVBORw0K\nGgo=\n", "text/plain": "<Figure>"}, Image("image/png", "iVBORw0KGgo=")),
        ({"image/jpeg": "/9j/4AAQ", "text/plain": "<Image>"}, Image("image/jpeg", "/9j/4AAQ")),
        ({"image/svg+xml": ["<svg>\n", "</svg>"]}, Image("image/svg+xml", "<svg>\n</svg>")),
        ({"text/html": "<b>df</b>", "text/plain": "   a\n0  1"}, Output("stdout", "   a\n0  1\n")),
    ],
)
def test_jupyter_display_data_becomes_an_image_or_its_text(data: dict[str, Any], expected: object) -> None:
    decoder = JupyterDecoder("run-1")
    assert decoder.feed(message("display_data", {"data": data, "metadata": {}})) == [expected]


def test_jupyter_display_without_text_or_image_shows_nothing() -> None:
    decoder = JupyterDecoder("run-1")
    assert decoder.feed(message("display_data", {"data": {"text/html": "<b>x</b>"}})) == []


def test_jupyter_active_lines_are_events_not_output_and_end_with_none() -> None:
    decoder = JupyterDecoder("run-1")
    events = []
    for line in (1, 2, 3):
        events += decoder.feed(message("display_data", {"data": {ACTIVE_LINE_MIME: {"line": line}}}))
    events += decoder.feed(message("display_data", {"data": {ACTIVE_LINE_MIME: '{"line": 4}'}}))
    decoder.feed(IDLE)
    events += decoder.finish()
    assert events == [ActiveLine(1), ActiveLine(2), ActiveLine(3), ActiveLine(4), ActiveLine(None)]


def test_strip_ansi_removes_colours_and_hyperlinks() -> None:
    text = "\x1b[1;31mred\x1b[0m \x1b]8;;file:///x\x1b\\link\x1b]8;;\x1b\\ \x1b[2K"
    assert strip_ansi(text) == "red link "


def test_bootstrap_compiles_and_uses_the_private_mime_type() -> None:
    compile(BOOTSTRAP, "<bootstrap>", "exec")
    assert ACTIVE_LINE_MIME in BOOTSTRAP


# Shell ----------------------------------------------------------------------------------

MARKER = b"\x1emirastream-0123456789abcdef0123456789abcdef\x1e"


def shell_events(decoder: ShellDecoder, pieces: list[tuple[str, bytes]]) -> list[object]:
    events: list[object] = []
    for name, data in pieces:
        assert name in ("stdout", "stderr")
        events += decoder.feed(name, data)  # type: ignore[arg-type]
    return events


def joined(events: list[object], stream: str) -> str:
    return "".join(event.text for event in events if isinstance(event, Output) and event.stream == stream)


def test_shell_output_ends_at_both_markers_with_the_status() -> None:
    decoder = ShellDecoder(MARKER)
    events = shell_events(decoder, [("stdout", b"hello\n"), ("stderr", b"oops\n")])
    assert events == [Output("stdout", "hello\n"), Output("stderr", "oops\n")]
    assert not decoder.done
    events = shell_events(decoder, [("stdout", b"no newline" + MARKER + b"2\n")])
    assert events == [Output("stdout", "no newline")]
    assert decoder.exit_status == 2
    assert not decoder.done  # stderr is not known complete yet
    assert shell_events(decoder, [("stderr", b"last" + MARKER)]) == [Output("stderr", "last")]
    assert decoder.done


def test_shell_text_that_could_start_a_marker_is_held_back_until_it_cannot() -> None:
    decoder = ShellDecoder(MARKER)
    assert shell_events(decoder, [("stdout", b"abc\x1emirastr")]) == [Output("stdout", "abc")]
    assert shell_events(decoder, [("stdout", b"ange\n")]) == [Output("stdout", "\x1emirastrange\n")]


def test_shell_output_after_the_marker_is_still_output() -> None:
    decoder = ShellDecoder(MARKER)
    events = shell_events(
        decoder, [("stdout", MARKER + b"0\nbackground job\n"), ("stderr", MARKER + b"late")]
    )
    assert joined(events, "stdout") == "background job\n"
    assert joined(events, "stderr") == "late"
    assert decoder.exit_status == 0
    assert decoder.done


def test_shell_finish_gives_what_was_held_back_when_the_shell_died() -> None:
    decoder = ShellDecoder(MARKER)
    events = shell_events(decoder, [("stdout", b"partial \xe2\x82"), ("stderr", b"\x1emira")])
    assert events == [Output("stdout", "partial ")]
    assert decoder.finish() == [Output("stdout", "\ufffd"), Output("stderr", "\x1emira")]
    assert not decoder.done


@given(
    stdout=st.text(max_size=200),
    stderr=st.text(max_size=200),
    status=st.integers(0, 255),
    cuts=st.lists(st.integers(1, 40), max_size=30),
)
def test_shell_decoding_does_not_depend_on_how_the_pipes_split_the_bytes(
    stdout: str, stderr: str, status: int, cuts: list[int]
) -> None:
    out_bytes = stdout.encode() + MARKER + f"{status}\n".encode()
    err_bytes = stderr.encode() + MARKER
    decoder = ShellDecoder(MARKER)
    events: list[object] = []
    position = {"stdout": 0, "stderr": 0}
    data = {"stdout": out_bytes, "stderr": err_bytes}
    for index, size in enumerate([*cuts, 10**6, 10**6]):
        name = ("stdout", "stderr")[index % 2]
        piece = data[name][position[name] : position[name] + size]
        position[name] += len(piece)
        if piece:
            events += decoder.feed(name, piece)  # type: ignore[arg-type]
    assert decoder.done
    assert decoder.exit_status == status
    assert joined(events, "stdout") == stdout
    assert joined(events, "stderr") == stderr
    assert all(event.text for event in events if isinstance(event, Output))


def test_shell_markers_are_random_per_session() -> None:
    first, second = new_marker(), new_marker()
    assert first != second
    assert re.fullmatch(rb"\x1emirastream-[0-9a-f]{32}\x1e", first)


def test_run_line_prints_the_markers_it_is_decoded_with(tmp_path: Path) -> None:
    code = tmp_path / "cell.sh"
    code.write_text("echo out\necho err >&2\nexit_code=3\nreturn $exit_code\n")
    line = run_line(MARKER, code)
    result = subprocess.run(["bash", "--noprofile", "--norc"], input=line, capture_output=True, check=True)
    decoder = ShellDecoder(MARKER)
    events = decoder.feed("stdout", result.stdout) + decoder.feed("stderr", result.stderr)
    assert decoder.done
    assert decoder.exit_status == 3
    assert events == [Output("stdout", "out\n"), Output("stderr", "err\n")]
    assert MARKER not in line  # the line carries the marker only as printf escapes


# Run control ----------------------------------------------------------------------------


def test_run_control_interrupts_at_the_timeout_then_kills_after_the_grace() -> None:
    control = RunControl(Limits(timeout=10, grace=2), now=100.0)
    assert control.wait(100.0) == POLL
    assert control.wait(109.9) == pytest.approx(0.1)
    assert control.due(109.9) is None
    assert control.due(110.0) == "interrupt"
    assert control.reason == "timeout"
    assert control.due(111.0) is None
    assert control.due(112.0) == "kill"
    assert control.due(113.0) is None
    finished = control.finished(112.5, "killed", None, killed=True, restart_note="state is lost")
    assert finished == Finished(
        "timeout",
        "timed out after 10 s and did not stop within the 2 s grace and was killed; state is lost",
        12.5,
    )


def test_run_control_stop_requests_and_their_statuses() -> None:
    control = RunControl(Limits(timeout=10, grace=2), now=0.0)
    assert control.stop(1.0, "interrupted")
    assert not control.stop(1.5, "cancelled")  # already stopping: no second signal
    assert control.due(2.9) is None
    assert control.finished(1.2, "error", "KeyboardInterrupt") == Finished(
        "interrupted", "interrupted (KeyboardInterrupt)", 1.2
    )
    assert control.due(3.0) == "kill"
    assert control.finished(3.0, "killed", None, killed=True).status == "killed"


def test_run_control_finished_passes_the_code_status_through() -> None:
    control = RunControl(Limits(), now=0.0)
    assert control.finished(1.0, "ok", "ignored") == Finished("ok", None, 1.0)
    assert control.finished(1.0, "error", "exit status 2") == Finished("error", "exit status 2", 1.0)
    died = control.finished(1.0, "killed", "the kernel died", restart_note="variables are lost")
    assert died == Finished("killed", "the kernel died; variables are lost", 1.0)
    control.kill("closed")
    assert control.finished(1.0, "killed", None).error == "the session was closed while the code ran"


def test_run_control_caps_output_bytes_with_one_note() -> None:
    control = RunControl(Limits(max_output_bytes=10), now=0.0)
    assert control.admit(Output("stdout", "12345")) == [Output("stdout", "12345")]
    assert control.admit(ActiveLine(2)) == [ActiveLine(2)]
    capped = control.admit(Output("stderr", "é7890abc"))  # "é" is two bytes
    assert capped[0] == Output("stderr", "é789")
    assert isinstance(capped[1], Output)
    assert "truncated" in capped[1].text
    assert control.admit(Output("stdout", "more")) == []
    assert control.admit(Image("image/png", "AAAA")) == []
    assert control.admit(ActiveLine(None)) == [ActiveLine(None)]


def test_run_control_without_a_cap_passes_everything() -> None:
    control = RunControl(Limits(), now=0.0)
    big = Output("stdout", "x" * 10_000_000)
    assert control.admit(big) == [big]


# Limits and environment -----------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timeout": 0},
        {"grace": -1},
        {"max_memory_mb": 0},
        {"max_processes": 0},
        {"max_output_bytes": -1},
        {"keep_env": "OPENAI_API_KEY"},
    ],
)
def test_limits_reject_nonsense(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        Limits(**kwargs)


def test_limits_freeze_their_mappings() -> None:
    env = {"A": "1"}
    limits = Limits(env=env, keep_env=["X"])
    env["A"] = "2"
    assert limits.env == {"A": "1"}
    assert limits.keep_env == ("X",)


@pytest.mark.parametrize(
    "name",
    [
        "OPENAI_API_KEY",
        "AWS_SECRET_ACCESS_KEY",
        "GITHUB_TOKEN",
        "gh_token",
        "PGPASSWORD",
        "MYSQL_PWD_PASSWD",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "AWS_PROFILE",
        "AZURE_CLIENT_ID",
        "SESSION_COOKIE",
        "SSH_AUTH_SOCK",
        "MY_PRIVATE_THING",
        "KUBECONFIG",
    ],
)
def test_secret_looking_names(name: str) -> None:
    assert looks_secret(name)


@pytest.mark.parametrize("name", ["PATH", "HOME", "LANG", "TERM", "PYTHONPATH", "VIRTUAL_ENV", "LC_ALL"])
def test_ordinary_names(name: str) -> None:
    assert not looks_secret(name)


def test_child_environment_drops_secrets_and_moves_home(tmp_path: Path) -> None:
    host = {
        "PATH": "/bin",
        "HOME": "/home/me",
        "OPENAI_API_KEY": "sk-secret",
        "AWS_REGION": "x",
        "TERM": "xterm",
    }
    env = child_environment(Limits(), home=tmp_path, host=host)
    assert env == {"PATH": "/bin", "HOME": str(tmp_path), "TERM": "xterm", "LANG": "C.UTF-8"}
    kept = child_environment(Limits(keep_env=["OPENAI_API_KEY", "HOME"]), home=tmp_path, host=host)
    assert kept["OPENAI_API_KEY"] == "sk-secret"
    assert kept["HOME"] == "/home/me"


def test_child_environment_from_a_mapping_is_exactly_it_plus_the_basics(tmp_path: Path) -> None:
    host = {"PATH": "/usr/bin:/bin", "LANG": "de_DE.UTF-8", "TERM": "xterm"}
    env = child_environment(Limits(env={"TOKEN": "given on purpose"}), home=tmp_path, host=host)
    assert env == {
        "TOKEN": "given on purpose",
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LANG": "de_DE.UTF-8",
    }


# Flow drivers ---------------------------------------------------------------------------


class Recorder:
    """A flow that emits three outputs and records how it was stopped."""

    def __init__(self) -> None:
        self.cancelled = False
        self.finished = False

    def flow(self) -> Flow[None]:
        try:
            for index in range(3):
                received = yield Receive(0.0)
                yield Emit(Output("stdout", f"{index}:{received}"))
        except Cancelled:
            self.cancelled = True
            yield Receive(0.0)  # stopping the code may still need IO
            yield Emit(Output("stdout", "never shown"))
        self.finished = True


def test_stream_hands_out_events_and_replies() -> None:
    recorder = Recorder()
    events = list(stream(recorder.flow(), lambda step: "r", lambda: None))
    assert events == [Output("stdout", "0:r"), Output("stdout", "1:r"), Output("stdout", "2:r")]
    assert recorder.finished
    assert not recorder.cancelled


def test_closing_the_stream_cancels_the_flow_and_runs_it_to_its_end() -> None:
    recorder = Recorder()
    performed: list[object] = []

    def perform(step: object) -> str:
        performed.append(step)
        return "r"

    events: Iterator[object] = stream(recorder.flow(), perform, lambda: None)
    assert next(events) == Output("stdout", "0:r")
    events.close()  # type: ignore[attr-defined]
    assert recorder.cancelled
    assert recorder.finished
    assert len(performed) == 2  # one wait before the event, one while stopping


def test_a_failing_flow_kills_the_child() -> None:
    killed = []

    def broken() -> Flow[None]:
        yield Receive(0.0)
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError, match="bug"):
        list(stream(broken(), lambda step: None, lambda: killed.append(True)))
    assert killed == [True]


def test_astream_cancellation_stops_the_flow() -> None:
    recorder = Recorder()

    async def perform(step: object) -> str:
        await asyncio.sleep(0)
        return "r"

    async def main() -> list[object]:
        seen: list[object] = []
        events = astream(recorder.flow(), perform, lambda: None)
        async for event in events:
            seen.append(event)
            break
        await events.aclose()  # type: ignore[attr-defined]
        return seen

    assert asyncio.run(main()) == [Output("stdout", "0:r")]
    assert recorder.cancelled
    assert recorder.finished


@pytest.mark.parametrize("session_class", ["PythonSession", "ShellSession"])
def test_sync_and_async_methods_mirror_each_other(session_class: str) -> None:
    import inspect

    import mirastream.tools.execution as execution

    cls = getattr(execution, session_class)
    assert cls.language == {"PythonSession": "python", "ShellSession": "shell"}[session_class]
    assert isinstance(inspect.getattr_static(cls, "alive"), property)
    for sync, asynchronous in [("start", "astart"), ("execute", "aexecute"), ("close", "aclose")]:
        assert inspect.signature(getattr(cls, sync)) == inspect.signature(getattr(cls, asynchronous)).replace(
            return_annotation=inspect.signature(getattr(cls, sync)).return_annotation
        )
    assert inspect.iscoroutinefunction(cls.astart)
    assert inspect.iscoroutinefunction(cls.aclose)
    assert not inspect.iscoroutinefunction(cls.aexecute)  # returns an async iterator
    parameters = inspect.signature(cls).parameters
    assert list(parameters) == ["limits", "sandbox", "network"]
    assert parameters["limits"].default == Limits()
    assert (parameters["sandbox"].default, parameters["network"].default) == (True, False)
    assert parameters["sandbox"].kind == parameters["network"].kind == inspect.Parameter.KEYWORD_ONLY
