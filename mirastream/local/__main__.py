"""`python -m mirastream.local`: serve the local model on 127.0.0.1 until Ctrl-C.

The settings for clients go to stdout as `NAME=value` lines (OpenAI and Anthropic base
URLs and the key); everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import os
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
    return parser


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
