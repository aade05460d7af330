"""The code interpreter against a bare Jupyter kernel: start, round trip, output latency and volume.

    python -m bench.interpreter [--cold 3] [--warm 30] [--prints 20] [--output-mb 50]

Two sides, each in a fresh Python process: ``mirastream`` (`PythonSession`, the code
interpreter's Python session, sandboxed as by default on Linux) and ``bare``
(`jupyter_client.manager.start_new_kernel`, a `BlockingKernelClient` reading iopub until the
execution's `idle` status). Each measures:

- cold start: from nothing to a kernel ready to run code (`start()` / `start_new_kernel`),
  `cold` times, each kernel closed afterwards;
- warm round trip: `1+1` on a running kernel until its execution is done, `warm` times;
- print-to-event latency: the code prints `time.monotonic()` `prints` times, 50 ms apart;
  each line's latency is the host's `time.monotonic()` when its text arrived minus the
  printed value (one clock for all processes on Linux);
- output volume: ``print`` of 1 KiB lines, `output_mb` MiB in all; the wall time, and the
  host process's RSS (sampled every MiB received, and its peak over the run, `VmHWM`) and
  the kernel's peak RSS.

The mirastream side also runs the tool loop (`execution_start`): an OpenAI stream whose
model writes an `execute` call over about a second; measured is the time from the chunk
that ends the model's turn (`finish_reason` `tool_calls`, right after the call's last
piece) to the first event of its execution (its first active line or output), and the
sandbox's own cost: cold starts and warm `1+1` round trips of a sandboxed and an unsandboxed
`PythonSession`, taken in turns (`sandboxed_*`, `unsandboxed_*`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from bench._common import clear_proxies, memory_kib, prompt_class, reset_peak_rss, run_child

SIDES = ("mirastream", "bare")
TIMEOUT = 600.0
OnText = Callable[[str, float], None]


@dataclass
class SideResult:
    """What one side measured (seconds, KiB)."""

    side: str
    cold: list[float] = field(default_factory=list)
    warm: list[float] = field(default_factory=list)
    print_latency: list[float] = field(default_factory=list)
    output_bytes: int = 0
    output_seconds: float = 0.0
    host_rss_before_kib: int = 0
    host_peak_kib: int = 0
    host_rss_samples_kib: list[int] = field(default_factory=list)
    kernel_peak_kib: int = 0
    execution_start: list[float] = field(default_factory=list)
    gateway_warm: list[float] = field(default_factory=list)
    sandboxed_cold: list[float] = field(default_factory=list)
    unsandboxed_cold: list[float] = field(default_factory=list)
    sandboxed_warm: list[float] = field(default_factory=list)
    unsandboxed_warm: list[float] = field(default_factory=list)


SANDBOX_FIELDS = ("sandboxed_cold", "unsandboxed_cold", "sandboxed_warm", "unsandboxed_warm")


class _Mirastream:
    def __init__(self, sandbox: bool = True) -> None:
        from mirastream.tools.execution import Limits, PythonSession

        self.session = PythonSession(Limits(timeout=TIMEOUT), sandbox=sandbox)

    def start(self) -> None:
        self.session.start()

    def close(self) -> None:
        self.session.close()

    def run(self, code: str, on_text: OnText) -> None:
        from mirastream.tools.execution import Finished, Output

        for event in self.session.execute(code):
            if isinstance(event, Output):
                on_text(event.text, time.monotonic())
            elif isinstance(event, Finished) and event.status != "ok":
                raise RuntimeError(f"the code failed: {event.error}")


class _Bare:
    def __init__(self) -> None:
        self.manager: Any = None
        self.client: Any = None

    def start(self) -> None:
        from jupyter_client.manager import start_new_kernel

        quiet = subprocess.DEVNULL
        self.manager, self.client = start_new_kernel(startup_timeout=60, stdout=quiet, stderr=quiet)

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)

    def run(self, code: str, on_text: OnText) -> None:
        msg_id = self.client.execute(code)
        while True:
            message = self.client.get_iopub_msg(timeout=TIMEOUT)
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                on_text(content["text"], time.monotonic())
            elif kind == "error":
                raise RuntimeError(f"the code failed: {content['ename']}: {content['evalue']}")
            elif kind == "status" and content["execution_state"] == "idle":
                break
        while self.client.get_shell_msg(timeout=TIMEOUT)["parent_header"].get("msg_id") != msg_id:
            pass


def _kernel_peak_kib() -> int:
    """The largest peak RSS among this process's descendants (the kernel)."""
    import psutil  # type: ignore[import-untyped]

    peak = 0
    for child in psutil.Process().children(recursive=True):
        try:
            with open(f"/proc/{child.pid}/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return peak


def _nothing(text: str, at: float) -> None:
    del text, at


def measure_side(name: str, cold: int, warm: int, prints: int, output_mb: int) -> SideResult:
    """Everything but the tool loop, for one side, in this process."""
    result = SideResult(name)
    side: _Mirastream | _Bare = _Mirastream() if name == "mirastream" else _Bare()
    for _ in range(cold):
        started = time.perf_counter()
        side.start()
        result.cold.append(time.perf_counter() - started)
        side.close()
        if name == "mirastream":
            side = _Mirastream()
    side.start()
    try:
        for _ in range(3):
            side.run("1+1", _nothing)
        for _ in range(warm):
            started = time.perf_counter()
            side.run("1+1", _nothing)
            result.warm.append(time.perf_counter() - started)

        def on_stamp(text: str, at: float) -> None:
            result.print_latency.extend(at - float(line) for line in text.split())

        side.run(
            f"import time\nfor _ in range({prints}):\n    print(time.monotonic())\n    time.sleep(0.05)\n",
            on_stamp,
        )
        _measure_output(side, result, output_mb)
        result.kernel_peak_kib = _kernel_peak_kib()
    finally:
        side.close()
    return result


def _measure_output(side: _Mirastream | _Bare, result: SideResult, output_mb: int) -> None:
    lines = output_mb * 1024
    received = [0, 1 << 20]  # bytes so far, the next sampling point

    def on_output(text: str, at: float) -> None:
        del at
        received[0] += len(text)
        if received[0] >= received[1]:
            received[1] += 1 << 20
            result.host_rss_samples_kib.append(memory_kib("VmRSS"))

    reset_peak_rss()
    result.host_rss_before_kib = memory_kib("VmRSS")
    started = time.perf_counter()
    side.run(f"line = 'x' * 1023\nfor _ in range({lines}):\n    print(line)\n", on_output)
    result.output_seconds = time.perf_counter() - started
    result.output_bytes = received[0]
    result.host_peak_kib = memory_kib("VmHWM")
    if received[0] != lines * 1024:
        raise AssertionError(f"{result.side}: {received[0]} bytes of output, expected {lines * 1024}")


def measure_sandbox_cost(cold: int, warm: int) -> dict[str, list[float]]:
    """The sandbox's cost: a sandboxed and an unsandboxed `PythonSession`, measured in turns.

    Cold starts alternate (sandboxed, then unsandboxed), and so do warm `1+1` round trips on
    one running session of each, so that the load of a shared machine weighs on both alike.
    """
    found: dict[str, list[float]] = {name: [] for name in SANDBOX_FIELDS}
    for _ in range(cold):
        for sandbox, name in ((True, "sandboxed_cold"), (False, "unsandboxed_cold")):
            side = _Mirastream(sandbox=sandbox)
            started = time.perf_counter()
            side.start()
            found[name].append(time.perf_counter() - started)
            side.close()
    pair = {True: _Mirastream(sandbox=True), False: _Mirastream(sandbox=False)}
    try:
        for side in pair.values():
            side.start()
            for _ in range(3):
                side.run("1+1", _nothing)
        for _ in range(warm):
            for sandbox, name in ((True, "sandboxed_warm"), (False, "unsandboxed_warm")):
                started = time.perf_counter()
                pair[sandbox].run("1+1", _nothing)
                found[name].append(time.perf_counter() - started)
    finally:
        for side in pair.values():
            side.close()
    return found


def measure_execution_start(url: str, reps: int, write_ms: int) -> list[float]:
    """Seconds from the end of the model's turn (its `execute` call written) to the code's first event."""
    from mirastream.events import ActiveLineEvent, ConsoleEvent
    from mirastream.openai import OpenAICallParams
    from mirastream.tools import CodeInterpreter
    from mirastream.tools.execution import Limits

    found: list[float] = []
    for _ in range(reps):
        interpreter = CodeInterpreter(confirm="auto", limits=Limits(timeout=60))
        prompt = prompt_class("openai", url)
        prompt.call_params = OpenAICallParams(model="gpt-4o", tools=[interpreter])
        call_written = None
        try:
            with prompt(text=f"bench-tool:{write_ms}").stream() as stream:
                for item in stream:
                    if getattr(item, "finish_reason", None) == "tool_calls":
                        call_written = time.perf_counter()  # the model's turn ended with its call
                    elif isinstance(item, ActiveLineEvent | ConsoleEvent) and call_written is not None:
                        found.append(time.perf_counter() - call_written)
                        call_written = None
        finally:
            interpreter.close()
    if len(found) != reps:
        raise AssertionError(f"the tool loop ran {len(found)} of {reps} executions")
    return found


def measure_gateway(warm: int) -> list[float]:
    """`1+1` round trips of a `GatewaySession` on a Jupyter Kernel Gateway this process starts on 127.0.0.1.

    Empty when `jupyter-kernel-gateway` is not installed.
    """
    import importlib.util
    import os
    import secrets
    import socket
    import tempfile
    from pathlib import Path

    from mirastream.tools.execution import Limits
    from mirastream.tools.execution.gateway import GatewaySession

    if importlib.util.find_spec("kernel_gateway") is None:
        return []
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as root:
        env = {name: value for name, value in os.environ.items() if not name.startswith("JUPYTER")}
        for name in ("CONFIG", "RUNTIME", "DATA"):
            env[f"JUPYTER_{name}_DIR"] = str(Path(root, name.lower()))
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        command = [sys.executable, "-m", "kernel_gateway", "--KernelGatewayApp.ip=127.0.0.1"]
        command += [f"--KernelGatewayApp.port={port}", f"--KernelGatewayApp.auth_token={token}"]
        gateway = subprocess.Popen(
            command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            session = GatewaySession(f"http://127.0.0.1:{port}", token, Limits(timeout=TIMEOUT))
            deadline = time.monotonic() + 60
            while True:
                try:
                    session.start()
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)  # the gateway is not listening yet
            found = []
            with session:
                for _ in range(3):
                    list(session.execute("1+1"))
                for _ in range(warm):
                    started = time.perf_counter()
                    list(session.execute("1+1"))
                    found.append(time.perf_counter() - started)
            return found
        finally:
            gateway.terminate()
            gateway.wait(30)


def run(url: str, *, cold: int, warm: int, prints: int, output_mb: int, tool_reps: int) -> list[SideResult]:
    """Both sides, each in a fresh process."""
    results = []
    for side in SIDES:
        arguments = ["--child", side, "--url", url, "--cold", str(cold), "--warm", str(warm)]
        arguments += ["--prints", str(prints), "--output-mb", str(output_mb), "--tool-reps", str(tool_reps)]
        results.append(SideResult(**run_child("bench.interpreter", arguments, timeout=1800)))
        print(f"  interpreter {side}: done", file=sys.stderr)
    return results


def main() -> int:
    """Run the group alone (it needs no server but for the tool loop) and print the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cold", type=int, default=3)
    parser.add_argument("--warm", type=int, default=30)
    parser.add_argument("--prints", type=int, default=20)
    parser.add_argument("--output-mb", type=int, default=50)
    parser.add_argument("--tool-reps", type=int, default=3)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--child", choices=SIDES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    clear_proxies()
    if args.child:
        result = measure_side(args.child, args.cold, args.warm, args.prints, args.output_mb)
        if args.child == "mirastream" and args.tool_reps:
            result.execution_start = measure_execution_start(args.url, args.tool_reps, 1000)
        if args.child == "mirastream":
            result.gateway_warm = measure_gateway(args.warm)
            for name, values in measure_sandbox_cost(args.cold, args.warm).items():
                setattr(result, name, values)
        print(json.dumps(asdict(result)))
        return 0
    from bench._sse_server import ServerProcess

    with ServerProcess(lifetime=3600) as url:
        results = run(
            url,
            cold=args.cold,
            warm=args.warm,
            prints=args.prints,
            output_mb=args.output_mb,
            tool_reps=args.tool_reps,
        )
    for result in results:
        print(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
