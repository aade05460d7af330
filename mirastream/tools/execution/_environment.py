"""The child's environment: the host's, without anything that looks like a secret.

Only names are checked. A value that embeds a secret under an innocent name
(`DATABASE_URL=postgres://user:password@...`) stays; pass `Limits(env=...)` for an
environment built from nothing.
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
