"""What `pip install mirastream` gets: only the `mirastream` package, and every module it imports declared.

The imports are read from the source (ast), so a new third-party import without its
dependency in `pyproject.toml` fails here rather than on a user's machine.
"""

from __future__ import annotations

import ast
import importlib.metadata
import sys
import zipfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11+")

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "mirastream"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
# Calls whose first argument names a module that is imported at run time.
IMPORTING_CALLS = {"import_module", "find_spec", "require_module"}


def _is_type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and (
        (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
        or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")
    )


def _walk_run_time(node: ast.AST) -> Iterator[ast.AST]:
    """Every node below `node`, skipping `if TYPE_CHECKING:` bodies (never run)."""
    for child in ast.iter_child_nodes(node):
        if _is_type_checking_block(child):
            assert isinstance(child, ast.If)
            for other in child.orelse:
                yield other
                yield from _walk_run_time(other)
            continue
        yield child
        yield from _walk_run_time(child)


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _imported_modules(tree: ast.Module) -> Iterator[tuple[str, ast.AST]]:
    for node in _walk_run_time(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:  # `from google import genai` imports `google.genai`
                yield node.module if alias.name == "*" else f"{node.module}.{alias.name}", node
        elif (
            isinstance(node, ast.Call)
            and _called_name(node) in IMPORTING_CALLS
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.args[0].value, node


def _third_party_imports() -> dict[str, set[str]]:
    """Each third-party module mirastream imports at run time, with the files importing it."""
    found: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for module, _node in _imported_modules(tree):
            top = module.partition(".")[0]
            if top in sys.stdlib_module_names or top == "__future__" or top == "mirastream":
                continue
            found.setdefault(module, set()).add(str(path.relative_to(ROOT)))
    return found


@cache
def _installed_modules() -> dict[str, set[str]]:
    """Dotted module or package name -> the installed distributions whose files provide it."""
    providers: dict[str, set[str]] = {}
    for dist in importlib.metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"])
        for file in dist.files or ():
            parts = file.parts
            if not parts or parts[0].endswith((".dist-info", ".data")) or parts[0] == "..":
                continue
            stem = parts[-1].split(".")[0]
            if not parts[-1].endswith((".py", ".so", ".pyd", ".pyi")):
                continue
            dotted = [*parts[:-1], stem] if stem != "__init__" else list(parts[:-1])
            for depth in range(1, len(dotted) + 1):
                providers.setdefault(".".join(dotted[:depth]), set()).add(name)
    return providers


def _providing_distributions(module: str) -> set[str]:
    """The distributions that provide `module` (its longest installed prefix: namespace packages)."""
    providers = _installed_modules()
    parts = module.split(".")
    for depth in range(len(parts), 0, -1):
        found = providers.get(".".join(parts[:depth]))
        if found:
            if depth == 1 and len(found) > 1:
                continue  # a namespace package (`google`): only a deeper name tells them apart
            return found
    return set()


def _requirements(group: str | None) -> list[Requirement]:
    specs = PROJECT["dependencies"] if group is None else PROJECT["optional-dependencies"][group]
    return [Requirement(spec) for spec in specs]


def _declared(group: str | None) -> set[str]:
    """Distributions declared by the core (`None`) or an extra, following `mirastream[...]`."""
    names = set() if group is None else _declared(None)
    for requirement in _requirements(group):
        if canonicalize_name(requirement.name) == "mirastream":
            for extra in requirement.extras:
                names |= _declared(extra)
        else:
            names.add(canonicalize_name(requirement.name))
    return names


def _declared_anywhere() -> set[str]:
    names = _declared(None)
    for group in PROJECT["optional-dependencies"]:
        names |= _declared(group)
    return names


def test_the_import_scan_sees_the_known_third_party_imports() -> None:
    imports = _third_party_imports()
    assert {"httpx2", "pydantic", "tenacity", "openai", "anthropic", "google.genai", "pytest"} <= set(imports)
    assert "zmq" in imports  # imported inside a function, found all the same
    assert not any(module.startswith("typing") for module in imports)


def test_every_third_party_import_is_a_declared_dependency() -> None:
    declared = _declared_anywhere()
    undeclared: dict[str, set[str]] = {}
    unknown: dict[str, set[str]] = {}
    for module, files in _third_party_imports().items():
        providers = _providing_distributions(module)
        if not providers:
            unknown[module] = files
        elif not providers & declared:
            undeclared[f"{module} ({', '.join(sorted(providers))})"] = files
    assert not unknown, f"imported but not installed in the test environment: {unknown}"
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


def test_optional_imports_name_the_extra_that_installs_them() -> None:
    """`require_module("x", extra="y")` promises that `pip install mirastream[y]` brings `x`."""
    checked = 0
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and _called_name(node) == "require_module"):
                continue
            extra = next((keyword.value for keyword in node.keywords if keyword.arg == "extra"), None)
            if not (isinstance(node.args[0], ast.Constant) and isinstance(extra, ast.Constant)):
                continue  # a name known only at run time
            module, group = node.args[0].value, extra.value
            assert group in PROJECT["optional-dependencies"], f"{path.name}: no extra {group!r}"
            providers = _providing_distributions(module)
            assert providers & _declared(group), f"{path.name}: {module} is not in the {group!r} extra"
            checked += 1
    assert checked >= 4


def test_installed_versions_satisfy_the_declared_bounds() -> None:
    """The bounds describe what the suite runs against (so they are not guesses)."""
    groups: list[str | None] = [None, *PROJECT["optional-dependencies"]]
    for group in groups:
        for requirement in _requirements(group):
            if canonicalize_name(requirement.name) == "mirastream":
                continue
            if requirement.marker is not None and not requirement.marker.evaluate():
                continue
            try:
                version = importlib.metadata.version(requirement.name)
            except importlib.metadata.PackageNotFoundError:
                continue  # an extra this environment does not install
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{requirement} (extra {group}) but {version} is installed"
            )


def test_the_wheel_ships_only_the_mirastream_package(tmp_path: Path) -> None:
    wheel_builder = pytest.importorskip(
        "hatchling.builders.wheel", reason="the build backend (hatchling, in the test extra) is missing"
    )
    (wheel,) = wheel_builder.WheelBuilder(str(ROOT)).build(directory=str(tmp_path), versions=["standard"])
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    dist_info = {top for top in tops if top.endswith(".dist-info")}
    assert len(dist_info) == 1
    assert tops - dist_info == {"mirastream"}
    shipped = {name for name in names if name.startswith("mirastream/")}
    source = {
        path.relative_to(ROOT).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in {".pyc", ".pyo"}
    }
    assert shipped == source
    assert {"mirastream/py.typed", "mirastream/local/qwen2.5-json-fence.jinja"} <= shipped
