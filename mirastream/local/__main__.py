"""`python -m mirastream.local`: serve the local model on 127.0.0.1 until Ctrl-C.

The settings for clients go to stdout as `NAME=value` lines (OpenAI and Anthropic base
URLs and the key); everything else goes to stderr. With `--env` the server runs in the
background and the command returns once it is ready, printing `export NAME=value` lines,
so `eval "$(python -m mirastream.local --env)"` sets them in the shell
(`kill $MIRASTREAM_LOCAL_PID` stops it).
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence

from ..errors import MirastreamError
from ._model import MODEL_ENV, TEMPLATE_ENV, LocalModel
from ._server import LocalServer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mirastream.local",
        description="Serve the local model (OpenAI and Anthropic APIs) on 127.0.0.1 until Ctrl-C.",
    )
    parser.add_argument(
        "--model",
        help="a GGUF file, or comma-separated packages holding its parts "
        f"(default: ${MODEL_ENV}, else the model of mirastream[local])",
    )
    parser.add_argument(
        "--chat-template",
        help="a Jinja chat template file, 'json-fence' (Qwen2.5 tool calls) or 'model' (the file's own)",
    )
    parser.add_argument("--threads", type=int, help="CPU threads (default: half the CPUs, 1 in CI)")
    parser.add_argument("--context", type=int, help="context window in tokens (default 8192)")
    parser.add_argument("--parallel", type=int, default=1, help="requests served at once (default 1)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    key = parser.add_mutually_exclusive_group()
    key.add_argument("--api-key", help="the key clients must send (default: a new random one)")
    key.add_argument("--no-key", action="store_true", help="serve without a key")
    parser.add_argument(
        "--prepare", action="store_true", help="only assemble and check the model file, print its path"
    )
    parser.add_argument("--verbose", action="store_true", help="show llama.cpp's log")
    parser.add_argument(
        "--env",
        action="store_true",
        help='serve in the background; print `export` lines for: eval "$(python -m mirastream.local --env)"',
    )
    parser.add_argument("--detached", action="store_true", help=argparse.SUPPRESS)  # --env's server
    return parser


def _serve_in_background(argv: Sequence[str]) -> int:
    """Start the server as a detached process; print its settings as `export` lines once ready."""
    arguments = [argument for argument in argv if argument != "--env"]
    child = subprocess.Popen(
        [sys.executable, "-m", "mirastream.local", *arguments, "--detached"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # Ctrl-C in the shell does not reach it
    )
    assert child.stdout is not None
    lines = [line.strip() for line in child.stdout]  # until the server detaches (or fails)
    settings = [line.partition("=") for line in lines if "=" in line]
    if not settings:
        return child.wait() or 1
    for name, _, value in settings:
        print(f"export {name}={shlex.quote(value)}")
    print(f"export MIRASTREAM_LOCAL_PID={child.pid}", flush=True)
    print(f"The server runs in the background; stop it with: kill {child.pid}", file=sys.stderr)
    return 0


def _detach() -> None:
    """Let go of the terminal and the caller's pipes: `$(...)` returns; SIGTERM stops cleanly."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for descriptor in (1, 2):
        os.dup2(devnull, descriptor)
    os.close(devnull)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def _model(args: argparse.Namespace) -> LocalModel | None:
    if args.model is None and args.chat_template is None:
        return None
    environ = dict(os.environ)
    if args.model is not None:
        environ[MODEL_ENV] = args.model
    if args.chat_template is not None:
        environ[TEMPLATE_ENV] = args.chat_template
    return LocalModel.from_env(environ)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.env and not args.prepare:
        return _serve_in_background(sys.argv[1:] if argv is None else argv)
    try:
        server = LocalServer(
            _model(args),
            threads=args.threads,
            context_size=args.context,
            parallel=args.parallel,
            port=args.port,
            api_key=args.api_key,
            require_key=not args.no_key,
            verbose=args.verbose,
        )
        if args.prepare:
            print(server.model.prepare(server.cache, progress=server.progress))
            return 0
        server.start()
    except MirastreamError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    try:
        lines = [
            f"OPENAI_BASE_URL={server.openai_base_url}",
            f"ANTHROPIC_BASE_URL={server.anthropic_base_url}",
        ]
        if server.api_key is not None:
            lines += [f"OPENAI_API_KEY={server.api_key}", f"ANTHROPIC_API_KEY={server.api_key}"]
        print("\n".join(lines), flush=True)
        if args.detached:
            _detach()
        print(
            f"Serving {server.alias} on {server.url} (OpenAI API under /v1, Anthropic under "
            "/v1/messages). Ctrl-C stops it.",
            file=sys.stderr,
            flush=True,
        )
        threading.Event().wait()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
