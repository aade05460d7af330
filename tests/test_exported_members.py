"""Each public package exports exactly the names it defines, derived from the package itself.

No list of names is kept here: a package's public names are read from its `__init__.py`
(what it binds from its own modules, eagerly or, for the packages that load names on first
use, under `if TYPE_CHECKING:` where type checkers see them) and compared with `__all__`.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path
from types import ModuleType

import pytest

import mirastream
import mirastream.errors

PUBLIC_PACKAGES = [
    "mirastream",
    "mirastream.anthropic",
    "mirastream.gemini",
    "mirastream.local",
    "mirastream.openai",
    "mirastream.testing",
    "mirastream.tools",
    "mirastream.tools.execution",
]

# Dunder names a package may export on purpose, as httpx exports `__version__`.
EXPORTED_DUNDERS = {"__version__"}

# Helpers an `__init__.py` binds to build its lazy `__getattr__`: machinery, not API.
PACKAGE_MACHINERY = {"lazy_names"}


def _is_type_checking_block(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and (
        (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
        or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")
    )


def _bound_names(statements: list[ast.stmt]) -> set[str]:
    """Names bound by these statements from the package's own modules or defined right here."""
    names: set[str] = set()
    for node in statements:
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif _is_type_checking_block(node):
            assert isinstance(node, ast.If)
            names |= _bound_names(node.body)
    return names


def _defined_public_names(package: ModuleType) -> set[str]:
    assert package.__file__ is not None
    tree = ast.parse(Path(package.__file__).read_text(encoding="utf-8"))
    names = _bound_names(tree.body) - PACKAGE_MACHINERY
    return {name for name in names if not name.startswith("_") or name in EXPORTED_DUNDERS}


@pytest.fixture(params=PUBLIC_PACKAGES)
def package(request: pytest.FixtureRequest) -> ModuleType:
    return importlib.import_module(request.param)


def test_every_exported_name_exists_and_is_public(package: ModuleType) -> None:
    exported = package.__all__
    assert exported, f"{package.__name__} exports nothing"
    assert len(set(exported)) == len(exported), f"{package.__name__}.__all__ repeats a name"
    for name in exported:
        assert not name.startswith("_") or name in EXPORTED_DUNDERS, f"{package.__name__} exports {name}"
        assert getattr(package, name) is not None, f"{package.__name__}.{name} does not resolve"
        assert name in dir(package)


def test_every_public_name_the_package_defines_is_exported(package: ModuleType) -> None:
    defined = _defined_public_names(package)
    assert defined, f"no public name found in {package.__name__}'s __init__.py"
    assert sorted(defined) == sorted(package.__all__)


def test_every_exported_class_function_and_module_has_a_docstring(package: ModuleType) -> None:
    for name in package.__all__:
        value = getattr(package, name)
        if inspect.isclass(value) or inspect.isfunction(value) or isinstance(value, ModuleType):
            assert value.__doc__, f"{package.__name__}.{name} has no docstring"


def test_lazily_loaded_names_resolve_to_what_their_module_defines() -> None:
    """A name served on first use is the very object its home module defines."""
    for name in mirastream.__all__:
        value = getattr(mirastream, name)
        home = getattr(value, "__module__", None)
        if isinstance(value, ModuleType):
            assert value.__name__ == f"mirastream.{name}"
        elif home is not None and home.startswith("mirastream."):
            assert getattr(importlib.import_module(home), name) is value


def test_every_exported_error_is_a_mirastream_error() -> None:
    assert mirastream.errors.__all__
    for name in mirastream.errors.__all__:
        assert issubclass(getattr(mirastream.errors, name), mirastream.errors.MirastreamError)
