"""`eval "$(python -m mirastream.local --env)"`: returns once the server is ready, which keeps running."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import psutil
import pytest

from ..local.conftest import require_local_model

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def test_eval_of_env_sets_the_variables_and_returns_while_the_server_runs() -> None:
    require_local_model()
    script = (
        f'eval "$({sys.executable} -m mirastream.local --env --no-key)" || exit 9\n'
        'echo "pid=$MIRASTREAM_LOCAL_PID"\n'
        f'{sys.executable} -c "import os, urllib.request; '
        "print(urllib.request.urlopen(os.environ['OPENAI_BASE_URL'] + '/models', timeout=30).status)\"\n"
    )
    env = {**os.environ, "MIRASTREAM_LOCAL_THREADS": "1"}
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    pid_line, status = done.stdout.split()
    pid = int(pid_line.removeprefix("pid="))
    try:
        assert status == "200"  # exported: a child process of the shell reached the server
        assert psutil.pid_exists(pid)  # bash returned; the server runs on
        assert f"stop it with: kill {pid}" in done.stderr
    finally:
        if psutil.pid_exists(pid):
            os.kill(pid, 15)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the server did not stop on SIGTERM")
