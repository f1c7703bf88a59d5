"""The integration's layout, as docs/architecture.md states it: who may import what, and size.

Layers, bottom up: `const` (names only), `providers` (wire clients), `core` (pure domain logic),
`runtime` (Home Assistant glue, the live services), and the platform and contract files at the
root. A module imports only its own layer and the ones below; nothing below `runtime` imports
Home Assistant, and neither does `protocol` (the satellite shares it).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "custom_components" / "anima"
ROOT_PACKAGE = "custom_components.anima"
#: Each layer and the layers it may import (besides itself).
ALLOWED = {
    "const": set(),
    "providers": {"const", "protocol"},
    "core": {"const", "providers", "protocol"},
    "protocol": set(),
    "runtime": {"const", "providers", "core", "protocol"},
    "root": {"const", "providers", "core", "protocol", "runtime"},
}
PURE = {"const", "providers", "core", "protocol"}
MAX_LINES = 400


def _layer(module: str) -> str:
    """Return the layer of a module of the package ("custom_components.anima.core.x" -> core)."""
    parts = module.removeprefix(ROOT_PACKAGE).lstrip(".").split(".")
    return parts[0] if parts[0] in ALLOWED else "root"


def _modules() -> list[tuple[str, Path]]:
    modules = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).with_suffix("")
        parts = [part for part in relative.parts if part != "__init__"]
        modules.append((".".join([ROOT_PACKAGE, *parts]), path))
    return modules


def _imports(module: str, path: Path) -> list[str]:
    """Return the absolute names a module imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                names.append(".".join([*base, node.module] if node.module else base))
            else:
                names.append(node.module or "")
    return names


MODULES = _modules()


def test_the_layout_is_read() -> None:
    layers = {_layer(module) for module, _ in MODULES}
    assert layers == set(ALLOWED)
    assert len(MODULES) > 40


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[m for m, _ in MODULES])
def test_each_module_imports_only_its_layer_and_those_below(module: str, path: Path) -> None:
    layer = _layer(module)
    for name in _imports(module, path):
        if name.startswith(ROOT_PACKAGE):
            imported = _layer(name)
            assert imported == layer or imported in ALLOWED[layer], (
                f"{module} ({layer}) imports {name} ({imported})"
            )
        elif layer in PURE:
            assert not name.startswith("homeassistant"), f"{module} ({layer}) imports {name}"


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[m for m, _ in MODULES])
def test_no_module_is_longer_than_400_lines(module: str, path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines"


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The check itself: a core module importing Home Assistant or the runtime is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("from homeassistant.core import HomeAssistant\nfrom ..runtime import data\n")
    names = _imports(f"{ROOT_PACKAGE}.core.bad", bad)
    assert names == ["homeassistant.core", f"{ROOT_PACKAGE}.runtime"]
    assert _layer(names[1]) == "runtime"
    assert "runtime" not in ALLOWED["core"]
