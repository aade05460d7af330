"""Package names that load their module on first use (PEP 562), to keep imports cheap."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_names(package: str, homes: dict[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` for `package`: each name of `homes` comes from its submodule.

    `homes` maps a name to the submodule, relative to `package`, that defines it; a name
    mapped to `""` is the submodule itself. The value is kept in the package once loaded.
    """
    namespace = import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = import_module(f"{package}.{home or name}")
        value = module if not home else getattr(module, name)
        namespace[name] = value  # later lookups are plain attribute reads
        return value

    return __getattr__
