"""The child's environment.

In a sandbox (the default on Linux) it is built from an allow-list (`ALLOWED`), the names
of `Limits.keep_env` and what `Limits.env` gives: nothing else of the host's environment
reaches the code. Without a sandbox it is the host's, without anything whose name looks
like a secret; only names are checked there, so a value that embeds a secret under an
innocent name (`DATABASE_URL=postgres://user:password@...`) stays.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from .limits import Limits

SECRET_WORDS = (
    "KEY",
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "CREDENTIAL",
    "AUTH",
    "COOKIE",
    "SESSION",
    "PRIVATE",
)
"""A name containing one of these, in any case and anywhere (`OPENAI_API_KEY`, `GH_TOKEN`,
`PGPASSWORD`), is dropped. This also drops a few harmless names (`GIT_AUTHOR_NAME`,
`XDG_SESSION_TYPE`): keep them with `Limits(keep_env=...)`."""

CLOUD_PREFIXES = ("AWS_", "AZURE_", "CLOUDSDK_")
"""Cloud SDK settings, which point at credential files or hold credentials."""

CLOUD_NAMES = frozenset({"GOOGLE_APPLICATION_CREDENTIALS", "KUBECONFIG", "NETRC"})

_SECRET_PATTERN = re.compile("|".join(SECRET_WORDS), re.IGNORECASE)

# Variables that would make the shell run a file at start (as `~/.bashrc` would).
SHELL_STARTUP = ("BASH_ENV", "ENV")


ALLOWED = ("PATH", "LANG", "LANGUAGE", "TERM", "TZ", "COLORTERM", "NO_COLOR", "USER", "LOGNAME")
"""What a sandboxed child gets of the host's environment by default (with every `LC_*`)."""


def looks_secret(name: str) -> bool:
    """Whether the variable `name` may hold a credential."""
    upper = name.upper()
    return (
        _SECRET_PATTERN.search(upper) is not None or upper.startswith(CLOUD_PREFIXES) or upper in CLOUD_NAMES
    )


def child_environment(limits: Limits, *, home: Path, host: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a session's child.

    `HOME` points at `home`, a private empty folder of the session, unless `limits.env`
    sets it or `limits.keep_env` names it: tools then find no credentials or settings in the
    user's real home folder and write nothing there.
    """
    host = os.environ if host is None else host
    keep = set(limits.keep_env)
    if limits.env is None:
        env = {name: value for name, value in host.items() if name in keep or not looks_secret(name)}
        if "HOME" not in keep or "HOME" not in env:
            env["HOME"] = str(home)
    else:
        env = dict(limits.env)
        env.setdefault("HOME", str(home))
    env.setdefault("PATH", host.get("PATH") or os.defpath)
    env.setdefault("LANG", host.get("LANG") or "C.UTF-8")
    return env


def sandbox_environment(
    limits: Limits, *, home: Path, host: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of a sandboxed child: an allow-list, never the host's filtered by names.

    `limits.env`, when given, is the whole environment (plus `PATH`, `HOME` and `LANG`
    when it lacks them); otherwise the `ALLOWED` names and `LC_*`, plus the names in
    `limits.keep_env`, are taken from the host. `HOME` is the session's private folder
    unless set that way.
    """
    host = os.environ if host is None else host
    if limits.env is not None:
        env = dict(limits.env)
    else:
        keep = set(ALLOWED) | set(limits.keep_env)
        env = {name: value for name, value in host.items() if name in keep or name.startswith("LC_")}
        if "HOME" not in limits.keep_env:
            env.pop("HOME", None)
    env.setdefault("HOME", str(home))
    env.setdefault("PATH", host.get("PATH") or os.defpath)
    env.setdefault("LANG", host.get("LANG") or "C.UTF-8")
    return env
