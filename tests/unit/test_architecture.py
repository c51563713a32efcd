"""The house's rules (docs/architecture.md): layers import one way, names are unique, modules small."""

import ast
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FRONT_ENDS = ("manager.server", "manager.cli", "manager.client", "manager.containerd")
MAX_LINES = 400


def modules(package):
    """Yield (dotted name, path) of every module under PACKAGE (a top-level folder)."""
    for folder, dirs, files in os.walk(os.path.join(REPO, package)):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                rel = os.path.relpath(path, REPO)[:-3].replace(os.sep, ".")
                yield rel.removesuffix(".__init__"), path


def imported(path):
    """Return the dotted names PATH imports (absolute and resolved relative imports)."""
    tree = ast.parse(open(path).read(), path)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


ALL = list(modules("manager")) + list(modules("shim"))


@pytest.mark.parametrize("name,path", [m for m in ALL if m[0].startswith(("manager.core",
                                                                            "manager.spawn"))])
def test_core_and_spawn_import_no_front_end(name, path):
    bad = sorted(n for n in imported(path) if n.startswith(FRONT_ENDS))
    assert bad == [], f"{name} imports a front end: {bad}"


@pytest.mark.parametrize("name,path", [m for m in ALL if m[0].startswith("manager")])
def test_the_manager_imports_only_the_contract_from_the_shim(name, path):
    bad = sorted(n for n in imported(path)
                 if (n == "shim" or n.startswith("shim.")) and not n.startswith("shim.contract"))
    assert bad == [], f"{name} imports the shim's internals: {bad}"


@pytest.mark.parametrize("name,path", [m for m in ALL if m[0].startswith("shim")])
def test_the_shim_never_imports_the_manager(name, path):
    bad = sorted(n for n in imported(path) if n == "manager" or n.startswith("manager."))
    assert bad == [], f"{name} imports the manager: {bad}"


def test_no_two_modules_share_a_name():
    seen = {}
    for name, _path in ALL:
        leaf = name.rsplit(".", 1)[-1]
        if leaf not in ("__main__",) and not name.endswith(tuple(f".{p}" for p in PACKAGES)):
            seen.setdefault(leaf, []).append(name)
    repeated = {leaf: names for leaf, names in seen.items() if len(names) > 1}
    assert repeated == {}


PACKAGES = {name.rsplit(".", 1)[-1] for name, path in ALL if path.endswith("__init__.py")}


@pytest.mark.parametrize("name,path", ALL)
def test_no_module_is_over_400_lines(name, path):
    with open(path) as f:
        count = sum(1 for _ in f)
    assert count <= MAX_LINES, f"{name}: {count} lines"
