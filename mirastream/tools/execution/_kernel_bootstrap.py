"""Code run silently in every new kernel: active-line reporting and prompt output flushing.

The approved code runs exactly as written; line numbers travel out of band, as a
`display_data` of a private MIME type that the decoder turns into `ActiveLine`. Only the
cell's own top-level code counts (the statements IPython compiles from the cell,
recognised as `<module>` frames running in the user namespace under the cell's file
name), not the functions it calls.

- For its first `PRECISE` seconds a cell runs under a `sys.settrace` tracer (installed by
  IPython's `pre_run_cell` hook) that sees every top-level line: a line is reported the
  first time it runs, and when lines repeat (a loop) at most every `THROTTLE` seconds.
  Short scripts, the usual case, are thus followed line by line.
- A tracer slows all Python code down while it is installed (measured: 3 to 9 times, also
  inside the functions it does not follow), so then it goes: it removes itself at the
  next top-level line, or, when the cell is inside a long call, on a simulated signal
  (`_thread.interrupt_main` with a spare signal number: the handler runs in the cell's
  thread, no signal is sent to the process). From then on a thread in the kernel samples
  the cell's top-level frame every `THROTTLE` seconds and reports its line when it
  changed, so long computations run at full speed.

Reporting flushes the cell's pending output first, so output and lines stay in order.
`post_run_cell` stops both.

While a cell runs, the kernel's output streams are flushed every 10 ms (instead of 200
ms) and whenever 64K characters are pending, so printed text reaches the host promptly
and in pieces of bounded size (a single larger `print` still arrives whole). The cell's
writes also bypass IPython 9's copy of all printed text into its in-memory output
history, which would otherwise grow the kernel without bound. The helper deletes itself
from the user namespace.
"""

from __future__ import annotations

ACTIVE_LINE_MIME = "application/vnd.mirastream.active-line+json"

FLUSH_INTERVAL = 0.01
FLUSH_SIZE = 65536
THROTTLE = 0.02
PRECISE = 0.1

BOOTSTRAP = f"""
def __mirastream_bootstrap():
    import _thread
    import contextvars
    import signal
    import sys
    import threading
    import time

    shell = get_ipython()
    publish = shell.display_pub.publish
    user_ns = shell.user_ns
    clock = time.monotonic

    # Output: prompt, bounded pieces, no copy in IPython's output history.
    streams = [stream for stream in (sys.stdout, sys.stderr) if hasattr(stream, "flush_interval")]
    for stream in streams:
        stream.flush_interval = {FLUSH_INTERVAL!r}

    def bounded_writer(stream):
        write = type(stream).write.__get__(stream)
        pending = [0]

        def bounded_write(text):
            written = write(text)
            pending[0] += len(text)
            if pending[0] >= {FLUSH_SIZE!r}:
                pending[0] = 0
                stream.flush()
            return written

        return bounded_write

    # Active lines.
    cell = {{
        "file": None, "start": 0.0, "line": None, "at": 0.0, "seen": set(), "thread": None,
        "context": None, "tracing": False, "number": 0, "stop": -1,
    }}
    running = threading.Event()

    def stop_tracing():
        if cell["tracing"]:
            cell["tracing"] = False
            sys.settrace(None)

    def on_stop_signal(signum, frame):
        if cell["stop"] == cell["number"]:
            stop_tracing()

    stop_signal = getattr(signal, "SIGRTMAX", None)
    stop_signal = stop_signal - 3 if stop_signal is not None else getattr(signal, "SIGUSR2", None)
    try:
        if stop_signal is None or signal.getsignal(stop_signal) not in (signal.SIG_DFL, None):
            stop_signal = None  # taken: the tracer then only goes at a top-level line
        else:
            signal.signal(stop_signal, on_stop_signal)
    except (OSError, RuntimeError, ValueError):
        stop_signal = None

    def report(line):
        cell["line"] = line
        cell["at"] = clock()
        publish(data={{{ACTIVE_LINE_MIME!r}: {{"line": line}}}}, metadata={{}})

    def trace_line(frame, event, arg):
        if event == "line":
            line = frame.f_lineno
            now = clock()
            if line != cell["line"] and (line not in cell["seen"] or now - cell["at"] >= {THROTTLE!r}):
                cell["seen"].add(line)
                report(line)
            if now - cell["start"] > {PRECISE!r}:
                stop_tracing()  # the sampler takes over
                return None
        return trace_line

    def trace_call(frame, event, arg):
        code = frame.f_code
        if code.co_name != "<module>" or frame.f_globals is not user_ns:
            return None
        if cell["file"] is None:
            cell["file"] = code.co_filename
            cell["start"] = clock()
        elif code.co_filename != cell["file"]:
            return None
        return trace_line

    def top_level_line():
        frame = sys._current_frames().get(cell["thread"])
        while frame is not None:
            code = frame.f_code
            if code.co_name == "<module>" and code.co_filename == cell["file"]:
                return frame.f_lineno
            frame = frame.f_back
        return None

    def sample():
        while True:
            running.wait()
            time.sleep({THROTTLE!r})
            if not running.is_set() or cell["file"] is None or clock() - cell["start"] <= {PRECISE!r}:
                continue
            if cell["tracing"] and stop_signal is not None and cell["stop"] != cell["number"]:
                cell["stop"] = cell["number"]
                _thread.interrupt_main(stop_signal)
            line = top_level_line()
            context = cell["context"]
            if line is not None and line != cell["line"] and context is not None and running.is_set():
                context.run(report, line)

    def pre_run_cell(info=None):
        for stream in streams:
            stream.write = bounded_writer(stream)
        cell.update(
            file=None, start=clock(), line=None, at=0.0, seen=set(), tracing=True,
            number=cell["number"] + 1, thread=threading.get_ident(), context=contextvars.copy_context(),
        )
        running.set()
        sys.settrace(trace_call)

    def post_run_cell(result=None):
        stop_tracing()
        running.clear()
        cell.update(file=None, context=None)
        for stream in streams:
            stream.__dict__.pop("write", None)

    threading.Thread(target=sample, name="mirastream-active-line", daemon=True).start()
    shell.events.register("pre_run_cell", pre_run_cell)
    shell.events.register("post_run_cell", post_run_cell)


__mirastream_bootstrap()
del __mirastream_bootstrap
"""
