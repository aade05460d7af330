"""Setting up: the missing-extra error, import cost, `python -m mirastream.local`, the example."""

from __future__ import annotations

import os
import runpy
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from mirastream.errors import MissingDependencyError
from mirastream.local import DEFAULT_MODEL, LocalPrompt, LocalServer, LocalServerError, check_installed

from .conftest import require_local_model

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _modules_after(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(result.stdout.split())


def test_importing_mirastream_local_loads_no_engine_and_no_sdk() -> None:
    loaded = _modules_after(
        "import mirastream.local\n"
        "class P(mirastream.local.LocalPrompt):\n"
        "    prompt_template = 'hi'\n"
        "class A(mirastream.local.LocalAnthropicPrompt):\n"
        "    prompt_template = 'hi'\n"
        "assert not mirastream.local.shared_server().running"
    )
    assert "mirastream.local" in loaded
    assert not {"xllamacpp", "openai", "anthropic", "httpx", "jupyter_client"} & loaded


def test_without_xllamacpp_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "xllamacpp", None)  # as if it were not installed
    server = LocalServer(progress=False)

    class Hello(LocalPrompt):
        prompt_template = "USER: hello"
        local_server = server

    with pytest.raises(MissingDependencyError) as caught:
        Hello().stream()
    assert caught.value.extra == "local"
    assert 'pip install "mirastream[local]"' in str(caught.value)
    assert not server.running
    with pytest.raises(MissingDependencyError, match=r"xllamacpp is not installed.*mirastream\[local\]"):
        check_installed()


def test_the_example_streams_from_the_shared_server(
    local_server: LocalServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["local_stream.py", "pears", "--max-tokens", "12"])
    with pytest.raises(SystemExit) as exited:
        runpy.run_path(str(EXAMPLES / "local_stream.py"), run_name="__main__")
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert f"[{local_server.alias}] finish: length" in out
    assert out.split("\n\n[")[0].strip()  # the streamed answer
    assert "first token after" in out


def test_python_m_mirastream_local_serves_until_ctrl_c() -> None:
    require_local_model()
    from openai import OpenAI

    env = {**os.environ, "MIRASTREAM_LOCAL_THREADS": "1"}
    # Python's own Ctrl-C handler, even if this test runs where SIGINT is ignored (a background
    # job): starting llama.cpp's server must leave it in place.
    command = (
        "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "runpy.run_module('mirastream.local', run_name='__main__', alter_sys=True)"
    )
    with subprocess.Popen(
        [sys.executable, "-c", command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        try:
            settings = dict(process.stdout.readline().strip().split("=", 1) for _ in range(4))
            assert set(settings) == {
                "OPENAI_BASE_URL",
                "ANTHROPIC_BASE_URL",
                "OPENAI_API_KEY",
                "ANTHROPIC_API_KEY",
            }, process.stderr.read()
            assert settings["OPENAI_BASE_URL"].startswith("http://127.0.0.1:")
            with OpenAI(base_url=settings["OPENAI_BASE_URL"], api_key=settings["OPENAI_API_KEY"]) as client:
                answer = client.chat.completions.create(
                    model="local", messages=[{"role": "user", "content": "Hi"}], max_tokens=2
                )
            assert answer.choices[0].finish_reason == "length"
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
        log = process.stderr.read()
        assert "Ctrl-C stops it" in log and log.rstrip().endswith("stopped")


def test_python_m_mirastream_local_prepare_prints_the_model_file() -> None:
    require_local_model()
    result = subprocess.run(
        [sys.executable, "-m", "mirastream.local", "--prepare"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.strip())
    assert path.suffix == ".gguf" and path.stat().st_size == DEFAULT_MODEL.size


def test_a_file_that_is_not_a_model_is_a_clear_error(local_server: LocalServer, tmp_path: Path) -> None:
    bad = tmp_path / "notes.gguf"
    bad.write_bytes(b"not a model at all")
    server = LocalServer(bad, progress=False)
    with pytest.raises(LocalServerError, match="is it a GGUF model file"):
        server.start()
    assert not server.running
    assert local_server.running  # the failed start left the other server alone


def test_a_chat_template_llama_cpp_cannot_parse_is_named_in_the_error(
    local_server: LocalServer, tmp_path: Path
) -> None:
    template = tmp_path / "broken.jinja"
    # Valid Jinja for jinja2, but llama.cpp's engine does not loop over a string.
    template.write_text("{%- for letter in 'abc' -%}{{ letter }}{%- endfor -%}", encoding="utf-8")
    server = LocalServer(replace(DEFAULT_MODEL, chat_template=template), progress=False)
    with pytest.raises(LocalServerError, match=r"parse the chat template .*broken\.jinja"):
        server.start()
    assert not server.running
    assert local_server.running
