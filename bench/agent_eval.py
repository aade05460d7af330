"""How often the local model answers everyday questions by running code: ``python -m bench.agent_eval``.

    python -m bench.agent_eval                        # every question of agent_questions.json, once
    python -m bench.agent_eval --only readme,primes --runs 3
    python -m bench.agent_eval --main-command 20      # the README's command, 20 fresh processes
    python -m bench.agent_eval --main-command 20 --fresh-clone   # each from a new clone and venv
    python -m bench.agent_eval --model 1.5b           # another model (a GGUF file, or 0.5b / 1.5b)
    python -m bench.agent_eval --temperature 0.8 --system chat --languages python,shell
    python -m bench.agent_eval --json results.json    # also save every run

The questions run through the library exactly as `mirastream chat` sends them (the same
prompt class, system prompt and call parameters, from `mirastream.cli`), with
`CodeInterpreter(confirm="auto")` in a fresh temporary working folder per question. A run
succeeds when code ran without error (the last call that ran succeeded), the final answer
contains the correct value (or the plot file exists), and the model did not loop (no call
repeated, at most `--max-calls` calls, the answer ended normally). A question checked as
`no_code` (bench/agent_questions_chat.json) succeeds the other way round: no call, and an
answer in words. The lever options
override one setting of the chat's configuration at a time, to measure what it changes.

Not part of CI: one pass over the questions takes several minutes of CPU. Run it on an
otherwise idle machine (llama.cpp's threads slow down sharply when the CPU is shared).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "bench" / "agent_questions.json"
README_QUESTION = "What is 34/24? Compute it."
README_VALUE = 34 / 24

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?|-?\.\d+")


@dataclass
class Outcome:
    """One run of one question."""

    id: str
    kind: str
    ok: bool
    reason: str
    seconds: float
    calls: int = 0
    failed_calls: int = 0
    answer: str = ""
    code: list[str] = field(default_factory=list)


# Checking answers -------------------------------------------------------------------------


def numbers_in(text: str) -> list[float]:
    """Every number written in `text` (thousands separators allowed)."""
    found = []
    for match in _NUMBER.finditer(text):
        raw = match.group().replace(",", "")
        try:
            found.append(float(raw))
        except ValueError:
            continue
    return found


def has_number(text: str, value: float, tol: float | None) -> bool:
    """Whether `text` states `value` (within `tol`, or exactly up to float precision)."""
    allowed = tol if tol is not None else max(1e-9, abs(value) * 1e-12)
    return any(math.isclose(number, value, abs_tol=float(allowed), rel_tol=0) for number in numbers_in(text))


def answer_correct(question: dict[str, Any], answer: str, workdir: Path) -> bool:
    """Whether `answer` (the model's final text) is right for `question`."""
    check = question["check"]
    lowered = answer.lower()
    if check == "number":
        return has_number(answer, float(question["value"]), question.get("tol"))
    if check == "text":
        return any(accepted.lower() in lowered for accepted in question["accept"])
    if check == "ordered":
        position = 0
        for word in question["accept"]:
            match = re.compile(rf"(?<![\w.]){re.escape(word.lower())}(?![\w])").search(lowered, position)
            if match is None:
                return False
            position = match.end()
        return True
    if check == "file":
        return (workdir / str(question["file"])).is_file()
    if check == "no_code":  # a question that needs no computation: any stated word will do
        return bool(answer.strip()) and (
            not question.get("accept") or any(word.lower() in lowered for word in question["accept"])
        )
    raise ValueError(f"unknown check {check!r}")


# The library run ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Levers:
    """Settings that override the chat's configuration (`None`: the chat's own)."""

    model: str | None = None
    temperature: float | None = None
    top_k: int | None = None
    repeat_penalty: float | None = None
    max_tokens: int | None = None
    system: str | None = None
    languages: tuple[str, ...] | None = None
    parallel_tool_calls: bool | None = None
    tool_choice: str | None = None
    chat_template: str | None = None

    def describe(self) -> str:
        """The levers set, as `name=value` words (or "the chat's configuration")."""
        words = [f"{name}={value}" for name, value in asdict(self).items() if value is not None]
        if self.system is not None:
            words = [word if not word.startswith("system=") else "system=(custom)" for word in words]
        return ", ".join(words) or "the chat's configuration"


def _local_model(name: str | None, chat_template: str | None) -> Any:
    """The model `--model` names (a short name of `mirastream.local.MODELS`, or a GGUF file),
    else the chat's (`MIRASTREAM_LOCAL_MODEL` and `MIRASTREAM_LOCAL_CHAT_TEMPLATE` apply, as in
    the chat); `--chat-template` replaces its chat template."""
    from dataclasses import replace

    from mirastream.local import MODELS, LocalModel

    if name is None or name == "default":
        model = LocalModel.from_env()
    elif name in MODELS:
        model = MODELS[name]
    else:
        model = LocalModel.from_file(name)
    if chat_template is not None:
        model = replace(model, chat_template=Path(chat_template))
    return model


class Evaluator:
    """Runs questions through the chat's prompt class with a local server started once."""

    def __init__(self, levers: Levers, max_calls: int, verbose: bool, pythonpath: str | None) -> None:
        from mirastream.cli._options import parse_options
        from mirastream.local import LocalServer

        self.levers = levers
        self.max_calls = max_calls
        self.verbose = verbose
        self.pythonpath = pythonpath
        self.options = parse_options(["chat", "--provider", "local", "--auto-run", "x"])
        self.server = LocalServer(_local_model(levers.model, levers.chat_template))
        started = time.monotonic()
        self.server.start()
        self.load_seconds = time.monotonic() - started

    def _prompt_class(self, interpreter: Any) -> Any:
        from mirastream.cli._providers import ChatModel, ProviderChoice

        options = self.options
        if self.levers.system is not None:
            from dataclasses import replace

            options = replace(options, system=self.levers.system)
        chat = ChatModel(ProviderChoice("local", "bench"), options, [interpreter])
        params: Any = getattr(chat.prompt_class, "call_params")  # noqa: B009  (a ClassVar of the subclass)
        overrides: dict[str, Any] = {}
        extra = dict(getattr(params, "extra_body", None) or {})
        if self.levers.temperature is not None:
            overrides["temperature"] = self.levers.temperature
        if self.levers.max_tokens is not None:
            overrides["max_tokens"] = self.levers.max_tokens
        if self.levers.parallel_tool_calls is not None:
            overrides["parallel_tool_calls"] = self.levers.parallel_tool_calls
        if self.levers.tool_choice is not None:
            overrides["tool_choice"] = self.levers.tool_choice
        if self.levers.top_k is not None:
            extra["top_k"] = self.levers.top_k
        if self.levers.repeat_penalty is not None:
            extra["repeat_penalty"] = self.levers.repeat_penalty
        if extra:
            overrides["extra_body"] = extra
        namespace = {"call_params": params.with_overrides(**overrides), "local_server": self.server}
        return chat, type("BenchChat", (chat.prompt_class,), namespace)

    def run(self, question: dict[str, Any]) -> Outcome:
        """Ask one question in a fresh working folder and code session; judge the answer."""
        from mirastream.cli._providers import interpreter_languages
        from mirastream.errors import MirastreamError
        from mirastream.tools import CodeInterpreter, Limits

        with tempfile.TemporaryDirectory(prefix="agent-eval-") as folder:
            workdir = Path(folder)
            languages = self.levers.languages or interpreter_languages("local")
            env = {"PYTHONPATH": self.pythonpath} if self.pythonpath else None
            interpreter = CodeInterpreter(
                confirm="auto", limits=Limits(workdir=workdir, env=env), languages=languages
            )
            chat, prompt_class = self._prompt_class(interpreter)
            values: dict[str, Any] = {"history": [], "message": question["question"]}
            if chat.system:
                values["system"] = chat.system
            started = time.monotonic()
            try:
                stream = prompt_class(**values).stream()
                for item in stream:
                    if self.verbose:
                        print(getattr(item, "content", ""), end="", file=sys.stderr, flush=True)
                response = stream.response
            except MirastreamError as error:
                partial = getattr(error, "response", None)
                return self._judge(question, partial, workdir, time.monotonic() - started, error)
            finally:
                interpreter.close()
            return self._judge(question, response, workdir, time.monotonic() - started, None)

    def _judge(
        self,
        question: dict[str, Any],
        response: Any,
        workdir: Path,
        seconds: float,
        error: BaseException | None,
    ) -> Outcome:
        steps = list(getattr(response, "steps", ()) or ())
        results = [result for step in steps for result in step.results]
        calls = [call for step in steps for call in step.response.tool_calls]
        answer = response.text if response is not None else ""
        outcome = Outcome(
            id=question["id"],
            kind=question["kind"],
            ok=False,
            reason="",
            seconds=round(seconds, 2),
            calls=len(calls),
            failed_calls=sum(result.is_error for result in results),
            answer=answer.strip()[:400],
            code=[str((call.arguments or {}).get("code", call.raw_arguments))[:300] for call in calls],
        )
        keys = [json.dumps(call.arguments, sort_keys=True) for call in calls]
        if error is not None:
            outcome.reason = f"error: {type(error).__name__}: {error}"[:300]
        elif len(calls) > self.max_calls or len(set(keys)) < len(keys):
            outcome.reason = f"looped ({len(calls)} calls, {len(keys) - len(set(keys))} repeated)"
        elif response.finish_reason != "stop":
            outcome.reason = f"finish reason {response.finish_reason}"
        elif question["check"] == "no_code" and calls:
            outcome.reason = "ran code for a question that needs none"
        elif question["check"] == "no_code":
            outcome.ok = answer_correct(question, answer, workdir)
            outcome.reason = "ok" if outcome.ok else "wrong or missing answer"
        elif not results:
            outcome.reason = "no code ran"
        elif results[-1].is_error:
            outcome.reason = "the code failed: " + results[-1].output.strip().splitlines()[-1][:200]
        elif not answer_correct(question, answer, workdir):
            outcome.reason = "wrong or missing answer"
        else:
            outcome.ok = True
            outcome.reason = "ok"
        return outcome


# The README's command, as a new user runs it -------------------------------------------------


def _chat_command() -> list[str]:
    script = Path(sys.executable).with_name("mirastream")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mirastream"]


def main_command_run(extra_args: list[str]) -> Outcome:
    """Run `mirastream chat "What is 34/24? Compute it."` in a fresh process, answering `y`.

    Succeeds when the chat showed code, asked before running it (once per call, at most
    twice), the code printed the value without an error, an explanation followed that
    states the value, and the command exited with 0.
    """
    with tempfile.TemporaryDirectory(prefix="agent-main-") as folder:
        environment = {**os.environ, "COLUMNS": "100"}
        command = [*_chat_command(), "chat", *extra_args, README_QUESTION]
        returncode, output, seconds = _answering_yes(command, Path(folder), environment, 900)
    return judge_main_command(returncode, output, seconds)


def _answering_yes(
    command: list[str], cwd: Path, env: dict[str, str], timeout: float
) -> tuple[int, str, float]:
    """Run `command` answering `y` to its questions: its exit status, its output, its seconds."""
    started = time.monotonic()
    process = subprocess.run(
        command,
        input="y\n" * 5,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # the question is asked on stderr: keep the order
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )
    return process.returncode, process.stdout, round(time.monotonic() - started, 2)


def readme_main_command(readme: Path = ROOT / "README.md") -> str:
    """The README's main command: the shell line between its `main-command` markers."""
    text = readme.read_text(encoding="utf-8")
    block = text.partition("<!-- main-command -->")[2].partition("<!-- /main-command -->")[0]
    lines = [line for line in block.splitlines() if line.strip() and not line.startswith("```")]
    if len(lines) != 1:
        raise SystemExit("README.md: expected one command between the main-command markers")
    return lines[0]


def fresh_clone_run(source: Path) -> Outcome:
    """The README's main command exactly as written, in a new clone of `source` with a new home.

    Each run clones the repository's committed `HEAD`, creates its virtual environment and
    installs from scratch (pip's download cache is kept, so packages are not downloaded
    again; everything is still installed), with an empty home folder: the model is assembled
    anew and nothing of earlier runs is found. The chat's part of the output is judged as
    `main_command_run` judges it; the seconds include the install.
    """
    with tempfile.TemporaryDirectory(prefix="agent-fresh-") as folder:
        clone, home = Path(folder) / "mirastream", Path(folder) / "home"
        home.mkdir()
        subprocess.run(["git", "clone", "--quiet", str(source), str(clone)], check=True, timeout=300)
        pip_cache = subprocess.run(
            [sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True, check=False
        ).stdout.strip()
        keep = ("PATH", "LANG", "LC_ALL", "TERM", "TMPDIR")
        environment = {name: os.environ[name] for name in keep if name in os.environ}
        environment.update(HOME=str(home), COLUMNS="100")
        if pip_cache:
            environment["PIP_CACHE_DIR"] = pip_cache
        command = ["bash", "-c", readme_main_command(clone / "README.md")]
        returncode, output, seconds = _answering_yes(command, clone, environment, 1800)
    installed = output.rfind("\nSuccessfully installed ")
    if installed >= 0:  # judge the chat, not pip's lines
        output = output[installed + 1 :].partition("\n")[2]
    return judge_main_command(returncode, output, seconds)


def judge_main_command(returncode: int, output: str, seconds: float) -> Outcome:
    """Whether one run of the README's command did what the README promises."""
    asks = [line for line in output.splitlines() if "code? [y/N]" in line]
    lines = output.splitlines()
    last_ask = max((index for index, line in enumerate(lines) if "code? [y/N]" in line), default=-1)
    printed = lines[last_ask].partition("[y/N]")[2] if last_ask >= 0 else ""
    explanation = "\n".join(
        line for line in lines[last_ask + 1 :] if line.strip() and not line.startswith("[local")
    )
    outcome = Outcome(id="main-command", kind="readme", ok=False, reason="", seconds=seconds, calls=len(asks))
    outcome.answer = explanation[:400]
    if returncode != 0:
        outcome.reason = f"exit status {returncode}: {output.strip()[-200:]}"
    elif not asks:
        outcome.reason = "no code ran (never asked)"
    elif len(asks) > 2:
        outcome.reason = f"looped ({len(asks)} confirmations)"
    elif "Error" in output or "Traceback" in output:
        outcome.reason = "the code failed"
    elif not has_number(printed + "\n" + explanation, README_VALUE, 0.005):
        outcome.reason = "the code did not print the value"
    elif not explanation or not has_number(explanation, README_VALUE, 0.005):
        outcome.reason = "no explanation stating the value"
    else:
        outcome.ok = True
        outcome.reason = "ok"
    return outcome


# Reporting -----------------------------------------------------------------------------------


def report(title: str, outcomes: list[Outcome]) -> str:
    """A Markdown summary: success rate, time per question, and every failure."""
    done = [outcome for outcome in outcomes if outcome.ok]
    times = sorted(outcome.seconds for outcome in outcomes)
    median = times[len(times) // 2] if times else 0.0
    lines = [
        f"### {title}",
        "",
        f"success: **{len(done)}/{len(outcomes)}** ({100 * len(done) / max(1, len(outcomes)):.0f} %); "
        f"seconds per question: median {median:.1f}, mean {sum(times) / max(1, len(times)):.1f}, "
        f"max {times[-1] if times else 0:.1f}",
        "",
    ]
    kinds = sorted({outcome.kind for outcome in outcomes})
    if len(kinds) > 1:
        lines += ["| kind | success |", "| --- | --- |"]
        for kind in kinds:
            group = [outcome for outcome in outcomes if outcome.kind == kind]
            lines.append(f"| {kind} | {sum(o.ok for o in group)}/{len(group)} |")
        lines.append("")
    failures = [outcome for outcome in outcomes if not outcome.ok]
    if failures:
        lines += ["| failed | reason | seconds | answer |", "| --- | --- | --- | --- |"]
        for outcome in failures:
            answer = outcome.answer.replace("\n", " ").replace("|", "\\|")[:120]
            lines.append(f"| {outcome.id} | {outcome.reason} | {outcome.seconds} | {answer} |")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.agent_eval", description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=QUESTIONS, help="the question file (JSON)")
    parser.add_argument("--only", help="comma-separated question ids (default: all)")
    parser.add_argument(
        "--kinds", help="comma-separated kinds (arithmetic, dates, strings, lists, plots, chat)"
    )
    parser.add_argument("--runs", type=int, default=1, help="runs of each question (default 1)")
    parser.add_argument(
        "--main-command",
        type=int,
        metavar="N",
        help="instead: run the README's main command N times, each in a fresh process",
    )
    parser.add_argument(
        "--fresh-clone",
        action="store_true",
        help="with --main-command: each run from a new clone, venv and home, install included",
    )
    parser.add_argument("--max-calls", type=int, default=3, help="more calls than this counts as a loop")
    parser.add_argument("--model", help="0.5b, 1.5b or a GGUF file (default: the chat's)")
    parser.add_argument("--temperature", type=float)
    parser.add_argument("--top-k", type=int)
    parser.add_argument("--repeat-penalty", type=float)
    parser.add_argument("--max-tokens", type=int)
    parser.add_argument("--system", help="'chat' (the general prompt), a file, or the text itself")
    parser.add_argument("--languages", help="comma-separated languages offered (python, shell)")
    parser.add_argument("--parallel-tool-calls", choices=("on", "off"))
    parser.add_argument("--tool-choice", choices=("auto", "required", "none"))
    parser.add_argument("--chat-template", help="a Jinja chat template file for the local server")
    parser.add_argument(
        "--pythonpath", help="PYTHONPATH for the code (e.g. a folder where matplotlib is installed)"
    )
    parser.add_argument("--json", type=Path, help="also save every run here")
    parser.add_argument("--verbose", action="store_true", help="stream each answer to stderr")
    return parser


def _levers(args: argparse.Namespace) -> Levers:
    system = args.system
    if system == "chat":
        from mirastream.cli._options import DEFAULT_SYSTEM

        system = DEFAULT_SYSTEM
    elif system is not None and Path(system).is_file():
        system = Path(system).read_text(encoding="utf-8").strip()
    return Levers(
        model=args.model,
        temperature=args.temperature,
        top_k=args.top_k,
        repeat_penalty=args.repeat_penalty,
        max_tokens=args.max_tokens,
        system=system,
        languages=tuple(args.languages.split(",")) if args.languages else None,
        parallel_tool_calls=None if args.parallel_tool_calls is None else args.parallel_tool_calls == "on",
        tool_choice=args.tool_choice,
        chat_template=args.chat_template,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation and print its Markdown report."""
    args = _parser().parse_args(argv)
    outcomes: list[Outcome] = []
    if args.main_command:
        extra = ["--model", args.model] if args.model else []
        if args.fresh_clone and extra:
            raise SystemExit("--fresh-clone runs the README's command as written: no --model")
        for number in range(1, args.main_command + 1):
            outcome = fresh_clone_run(ROOT) if args.fresh_clone else main_command_run(extra)
            outcomes.append(outcome)
            print(f"run {number}: {outcome.reason} ({outcome.seconds} s)", file=sys.stderr, flush=True)
        where = "new clone, venv and home each, install included" if args.fresh_clone else "fresh processes"
        title = f"README main command, {args.main_command} runs ({where})"
    else:
        questions = json.loads(args.questions.read_text(encoding="utf-8"))["questions"]
        if args.only:
            wanted = set(args.only.split(","))
            questions = [question for question in questions if question["id"] in wanted]
        if args.kinds:
            kinds = set(args.kinds.split(","))
            questions = [question for question in questions if question["kind"] in kinds]
        levers = _levers(args)
        evaluator = Evaluator(levers, args.max_calls, args.verbose, args.pythonpath)
        print(f"model loaded in {evaluator.load_seconds:.1f} s; {levers.describe()}", file=sys.stderr)
        for run in range(args.runs):
            for question in questions:
                outcome = evaluator.run(question)
                outcomes.append(outcome)
                line = (
                    f"[{run + 1}] {outcome.id}: {outcome.reason} ({outcome.seconds} s, {outcome.calls} calls)"
                )
                print(line, file=sys.stderr, flush=True)
        title = f"{len(questions)} questions x {args.runs} run(s); {levers.describe()}"
    print(report(title, outcomes))
    if args.json:
        args.json.write_text(
            json.dumps([asdict(outcome) for outcome in outcomes], indent=1), encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
