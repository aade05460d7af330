"""`GatewaySession` and `CodeInterpreter(gateway=...)` against a real Jupyter Kernel Gateway.

The module starts `jupyter kernelgateway` on 127.0.0.1 (a free port, a random token, its
own Jupyter folders, this interpreter's `ipykernel`) and talks to it over HTTP and the
kernel WebSocket, as a remote gateway would be used.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from mirastream.errors import ConfigurationError
from mirastream.events import ActiveLineEvent, ConsoleEvent, ImageEvent
from mirastream.testing import Call, Text, Turn, serve
from mirastream.tools import CodeInterpreter
from mirastream.tools.execution import ActiveLine, ExecutionEvent, Image, Limits, Output
from mirastream.tools.execution._gateway_wire import Inbox
from mirastream.tools.execution.gateway import GatewayError, GatewaySession

from .session_helpers import finished, stderr, stdout

pytest.importorskip("kernel_gateway", reason="jupyter-kernel-gateway (the test extra) is not installed")

MODES = ["sync", "async"]
# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@dataclass(frozen=True)
class RunningGateway:
    url: str
    token: str
    workdir: Path

    def kernels(self) -> list[str]:
        """The ids of the kernels the gateway runs now."""
        response = httpx2.get(f"{self.url}/api/kernels", headers={"Authorization": f"token {self.token}"})
        response.raise_for_status()
        return [kernel["id"] for kernel in response.json()]

    def delete(self, kernel_id: str) -> None:
        headers = {"Authorization": f"token {self.token}"}
        httpx2.delete(f"{self.url}/api/kernels/{kernel_id}", headers=headers).raise_for_status()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    root = tmp_path_factory.mktemp("gateway")
    folders = {name: root / name for name in ("config", "runtime", "data", "work")}
    for folder in folders.values():
        folder.mkdir()
    env = {name: value for name, value in os.environ.items() if not name.startswith(("JUPYTER", "IPYTHON"))}
    env |= {
        "JUPYTER_CONFIG_DIR": str(folders["config"]),
        "JUPYTER_RUNTIME_DIR": str(folders["runtime"]),
        "JUPYTER_DATA_DIR": str(folders["data"]),
        "JUPYTER_PLATFORM_DIRS": "1",
        "IPYTHONDIR": str(root / "ipython"),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    }
    port, token = free_port(), secrets.token_hex(16)
    command = [
        sys.executable,
        "-m",
        "kernel_gateway",
        "--KernelGatewayApp.ip=127.0.0.1",
        f"--KernelGatewayApp.port={port}",
        f"--KernelGatewayApp.auth_token={token}",
        "--JupyterWebsocketPersonality.list_kernels=True",
    ]
    log = root / "gateway.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            command, cwd=folders["work"], env=env, stdout=output, stderr=subprocess.STDOUT
        )
    running = RunningGateway(f"http://127.0.0.1:{port}", token, folders["work"].resolve())
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"the gateway exited:\n{log.read_text()}"
            try:
                running.kernels()
                break
            except httpx2.HTTPError:
                assert time.monotonic() < deadline, f"the gateway did not start:\n{log.read_text()}"
                time.sleep(0.1)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def in_mode(mode: str, session: GatewaySession, *codes: str) -> list[list[ExecutionEvent]]:
    """Run `codes` one after the other in `session` (sync or async), then close it."""
    if mode == "sync":
        with session:
            return [list(session.execute(code)) for code in codes]

    async def main() -> list[list[ExecutionEvent]]:
        async with session:
            runs = []
            for code in codes:
                runs.append([event async for event in session.aexecute(code)])
            return runs

    return asyncio.run(main())


# Events ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_output_streams_in_order_with_active_lines(gateway: RunningGateway, mode: str) -> None:
    code = "import sys, time\nprint('one')\nprint('two', file=sys.stderr)\n"
    code += "time.sleep(0.05)\nprint('three')\n6 * 7"
    (events,) = in_mode(mode, GatewaySession(gateway.url, gateway.token), code)

    assert finished(events).status == "ok"
    assert stdout(events) == "one\nthree\n42\n"
    assert stderr(events) == "two\n"
    texts = [event.text for event in events if isinstance(event, Output)]
    assert texts.index("one\n") < texts.index("two\n") < texts.index("three\n")
    lines = [event.line for event in events if isinstance(event, ActiveLine)]
    assert lines[0] == 1 and lines[-1] is None and 5 in lines
    # each line is reported before the output it makes
    order = [(type(event).__name__, getattr(event, "line", getattr(event, "text", None))) for event in events]
    assert order.index(("ActiveLine", 5)) < order.index(("Output", "three\n"))


def test_output_arrives_while_the_code_runs(gateway: RunningGateway) -> None:
    arrivals: list[tuple[str, float]] = []
    with GatewaySession(gateway.url, gateway.token) as session:
        session.start()
        started = time.monotonic()
        for event in session.execute("import time\nprint('early', flush=True)\ntime.sleep(1)\nprint('late')"):
            if isinstance(event, Output):
                arrivals.append((event.text, time.monotonic() - started))
    assert [text for text, _ in arrivals] == ["early\n", "late\n"]
    assert arrivals[0][1] < 0.8 <= arrivals[1][1]


@pytest.mark.parametrize("mode", MODES)
def test_images_from_display_data_and_execute_result(gateway: RunningGateway, mode: str) -> None:
    code = (
        "from IPython.display import Image, display\n"
        f"png = {PNG!r}\n"
        "display(Image(data=png))\n"
        "Image(data=png)"
    )
    (events,) = in_mode(mode, GatewaySession(gateway.url, gateway.token), code)
    images = [event for event in events if isinstance(event, Image)]
    assert [image.mime for image in images] == ["image/png", "image/png"]
    assert all(base64.b64decode(image.data) == PNG for image in images)
    assert finished(events).status == "ok"


@pytest.mark.parametrize("mode", MODES)
def test_an_error_finishes_the_run_and_the_session_goes_on(gateway: RunningGateway, mode: str) -> None:
    failing, after = in_mode(mode, GatewaySession(gateway.url, gateway.token), "x = 1\n1 / 0", "print(x + 1)")
    assert finished(failing).status == "error"
    assert finished(failing).error == "ZeroDivisionError: division by zero"
    assert "ZeroDivisionError" in stderr(failing) and "\x1b[" not in stderr(failing)
    assert finished(after).status == "ok" and stdout(after) == "2\n"


# Stopping ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_timeout_interrupts_the_kernel_which_keeps_its_state(gateway: RunningGateway, mode: str) -> None:
    session = GatewaySession(gateway.url, gateway.token, Limits(timeout=1.0, grace=5.0))
    looping, after = in_mode(mode, session, "kept = 'yes'\nwhile True:\n    pass", "print(kept)")
    end = finished(looping)
    assert end.status == "timeout" and end.error == "timed out after 1 s and was interrupted"
    assert "KeyboardInterrupt" in stderr(looping)
    assert 1.0 <= end.duration < 5.0
    assert stdout(after) == "yes\n"  # interrupted, not restarted


def test_code_that_ignores_the_interrupt_is_killed_and_its_kernel_deleted(gateway: RunningGateway) -> None:
    code = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"
    with GatewaySession(gateway.url, gateway.token, Limits(timeout=0.5, grace=0.5)) as session:
        session.start()
        first = session.kernel_id
        assert first in gateway.kernels()
        end = finished(list(session.execute(code)))
        assert end.status == "timeout" and "was killed" in (end.error or "")
        assert first not in gateway.kernels()
        events = list(session.execute("print('fresh')"))
        assert "the python session was restarted" in stderr(events)
        assert stdout(events) == "fresh\n" and session.kernel_id not in (None, first)


@pytest.mark.parametrize("mode", MODES)
def test_a_consumer_that_stops_interrupts_the_code(gateway: RunningGateway, mode: str) -> None:
    code = (
        "import time\nstate = 'running'\nprint('started', flush=True)\n"
        "try:\n    time.sleep(30)\nexcept KeyboardInterrupt:\n    state = 'interrupted'\n"
    )
    session = GatewaySession(gateway.url, gateway.token, Limits(grace=5.0))

    def stopped_early(events: list[ExecutionEvent]) -> bool:
        return any(isinstance(event, Output) and event.text == "started\n" for event in events)

    if mode == "sync":
        with session:
            seen: list[ExecutionEvent] = []
            started = time.monotonic()
            events = session.execute(code)
            for event in events:
                seen.append(event)
                if stopped_early(seen):
                    break
            getattr(events, "close")()  # noqa: B009
            stopped_after = time.monotonic() - started
            after = list(session.execute("print(state)"))
    else:

        async def main() -> tuple[list[ExecutionEvent], float, list[ExecutionEvent]]:
            async with session:
                seen: list[ExecutionEvent] = []
                started = time.monotonic()
                events = session.aexecute(code)
                async for event in events:
                    seen.append(event)
                    if stopped_early(seen):
                        break
                await getattr(events, "aclose")()  # noqa: B009
                stopped = time.monotonic() - started
                return seen, stopped, [event async for event in session.aexecute("print(state)")]

        seen, stopped_after, after = asyncio.run(main())
    assert stopped_early(seen)
    assert stopped_after < 5.0
    assert stdout(after) == "interrupted\n"


def test_interrupt_from_another_thread(gateway: RunningGateway) -> None:
    import threading

    with GatewaySession(gateway.url, gateway.token) as session:
        session.start()
        timer = threading.Timer(0.5, session.interrupt)
        timer.start()
        events = list(session.execute("import time\ntime.sleep(30)"))
        timer.join()
    end = finished(events)
    assert end.status == "interrupted" and end.duration < 5.0


# The kernel's life -------------------------------------------------------------------------


def test_closing_the_session_deletes_its_kernel(gateway: RunningGateway) -> None:
    session = GatewaySession(gateway.url, gateway.token)
    session.start()
    kernel_id = session.kernel_id
    assert kernel_id in gateway.kernels()
    session.close()
    assert kernel_id not in gateway.kernels()
    assert not session.alive


def test_aclose_deletes_the_kernel(gateway: RunningGateway) -> None:
    async def main() -> str | None:
        async with GatewaySession(gateway.url, gateway.token) as session:
            async for _ in session.aexecute("1"):
                pass
            assert session.kernel_id in gateway.kernels()
            return session.kernel_id

    kernel_id = asyncio.run(main())
    assert kernel_id is not None and kernel_id not in gateway.kernels()


@pytest.mark.parametrize("mode", MODES)
def test_a_kernel_the_gateway_deleted_is_noticed_and_replaced(gateway: RunningGateway, mode: str) -> None:
    session = GatewaySession(gateway.url, gateway.token)
    codes = ["x = 1", "print('lost')", "print('again')"]

    def delete() -> None:
        assert session.kernel_id is not None
        gateway.delete(session.kernel_id)  # the gateway's socket stays open, and silent

    if mode == "sync":
        with session:
            runs = [list(session.execute(codes[0]))]
            delete()
            runs += [list(session.execute(code)) for code in codes[1:]]
    else:

        async def main() -> list[list[ExecutionEvent]]:
            async with session:
                runs = [[event async for event in session.aexecute(codes[0])]]
                await asyncio.to_thread(delete)
                for code in codes[1:]:
                    runs.append([event async for event in session.aexecute(code)])
                return runs

        runs = asyncio.run(main())
    _, lost, again = runs
    end = finished(lost)
    assert end.status == "killed" and end.duration < 10.0
    assert "the gateway's kernel was lost (the gateway no longer runs it" in (end.error or "")
    assert "the next run starts a new kernel on the gateway" in (end.error or "")
    assert stdout(again) == "again\n" and "was restarted" in stderr(again)


# Errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_wrong_token_is_a_typed_error(gateway: RunningGateway, mode: str) -> None:
    session = GatewaySession(gateway.url, "not-the-token")
    with pytest.raises(GatewayError) as caught:
        in_mode(mode, session, "print('never')")
    assert caught.value.status_code == 403 or caught.value.status_code == 401
    assert gateway.url in str(caught.value) and "refused the token" in str(caught.value)
    assert "not-the-token" not in str(caught.value)


@pytest.mark.parametrize("mode", MODES)
def test_an_unreachable_gateway_is_a_typed_error_naming_the_url(mode: str) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(GatewayError, match="cannot reach the Jupyter gateway at " + url) as caught:
        in_mode(mode, GatewaySession(url, "token"), "print('never')")
    assert caught.value.url == url and caught.value.status_code is None


def test_an_answer_that_is_not_the_kernel_api_is_a_typed_error(gateway: RunningGateway) -> None:
    # A server that answers, but not as a gateway: the gateway's own static 404 page.
    with pytest.raises(GatewayError, match=r"answered HTTP 404 when asked to start a kernel"):
        GatewaySession(f"{gateway.url}/no-such-prefix", gateway.token).start()


@pytest.mark.parametrize(
    ("url", "token"),
    [("127.0.0.1:8888", None), ("ftp://host", None), ("http://host?x=1", None), ("http://host", "a\nb")],
)
def test_bad_settings_fail_before_any_request(url: str, token: str | None) -> None:
    with pytest.raises(ConfigurationError):
        GatewaySession(url, token)
    with pytest.raises(ConfigurationError):
        CodeInterpreter(gateway=url, gateway_token=token)


def test_a_frame_that_is_not_a_jupyter_message_is_a_typed_error() -> None:
    inbox = Inbox("http://gateway:8888")
    with pytest.raises(GatewayError, match="at http://gateway:8888 sent a message that is not a Jupyter"):
        inbox.put("<html>")
    inbox.put('{"channel": "iopub", "msg_type": "status", "content": {"execution_state": "restarting"}}')
    assert inbox.ended == "the gateway restarted the kernel"
    assert inbox.take("iopub") is not None and inbox.take("shell") is None


def test_the_token_never_shows_in_the_repr(gateway: RunningGateway) -> None:
    session = GatewaySession(gateway.url, gateway.token)
    assert gateway.token not in repr(session) and gateway.url in repr(session)
    interpreter = CodeInterpreter(gateway=gateway.url, gateway_token=gateway.token)
    assert gateway.token not in repr(interpreter.gateway) and gateway.token not in repr(interpreter)


# Through a prompt class --------------------------------------------------------------------

CODE = "import os\nprint(os.getcwd())\nx = 34 / 24\nround(x, 3)"


def read_stream(prompt: Any, mode: str) -> tuple[list[Any], Any]:
    if mode == "sync":
        with prompt.stream() as stream:
            return list(stream), stream.response

    async def main() -> tuple[list[Any], Any]:
        async with prompt.stream_async() as stream:
            return [item async for item in stream], stream.response

    return asyncio.run(main())


@pytest.mark.parametrize("mode", MODES)
def test_a_prompt_runs_the_models_code_on_the_gateway(gateway: RunningGateway, mode: str) -> None:
    from mirastream.openai import OpenAICallParams, OpenAIPrompt

    interpreter = CodeInterpreter(gateway=gateway.url, gateway_token=gateway.token, confirm="auto")

    class Analyst(OpenAIPrompt):
        prompt_template = "USER: {question}"
        question: str
        call_params = OpenAICallParams(model="gpt-4o", tools=[interpreter])

    before = set(gateway.kernels())
    try:
        with serve(Analyst) as replay:
            replay.queue(
                Turn(Text("Let me compute."), Call("execute", {"language": "python", "code": CODE})),
                Turn(Text("About 1.417.")),
            )
            items, response = read_stream(Analyst(question="34/24?"), mode)
            requests = replay.requests
        if mode == "sync":  # the sync session lives until the interpreter closes
            assert len(set(gateway.kernels()) - before) == 1
    finally:
        interpreter.close()
    # deleted by close() (sync) or as the stream's event loop ended (async)
    assert set(gateway.kernels()) == before

    expected = f"{gateway.workdir}\n1.417\n"  # run in the gateway's folder, not a local one
    console = "".join(item.content for item in items if isinstance(item, ConsoleEvent))
    assert console == expected
    lines = [item.line for item in items if isinstance(item, ActiveLineEvent)]
    assert lines[0] == 1 and lines[-1] is None
    assert not [item for item in items if isinstance(item, ImageEvent)]
    assert response.text == "About 1.417."
    assert response.steps[0].results[0].output == expected
    assert requests[1].messages()[-1].content == expected
