"""The data flows one way, and the imports show it.

corpus -> teachers (+ store) -> training -> checkpoint (model) -> encode -> {serving, evaluation}; the
studies and the command line sit on top. Each part of the package may import only the parts listed
for it below; the check reads the code's imports (relative ones resolved) and fails on any other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "jasper_tc"

LEAVES = ("atomic", "configs", "corpus", "figures", "model", "phases", "ranks", "resources", "results")
# part -> the other parts it may import ("jasper_tc" is the package's root, for its version)
ALLOWED: dict[str, set[str]] = {
    **{leaf: set() for leaf in LEAVES},
    "store": {"atomic"},
    "encode": {"atomic", "corpus", "model", "ranks", "store"},
    "teachers": {"atomic", "configs", "corpus", "encode", "model", "ranks", "store"},
    "training": {"atomic", "configs", "corpus", "model", "store"},
    "evaluation": {"atomic", "configs", "encode", "figures", "model", "pages", "results"},
    "pages": {"atomic", "figures", "results"},
    "serving": {"encode", "model", "jasper_tc"},
    "recipes": {"atomic", "configs", "encode", "evaluation", "model", "resources", "training"},
    "adapt": {
        "atomic",
        "configs",
        "corpus",
        "encode",
        "evaluation",
        "model",
        "pages",
        "phases",
        "recipes",
        "results",
        "resources",
        "teachers",
        "training",
    },
    "studies": {
        *("adapt", "atomic", "configs", "corpus", "encode", "evaluation", "model", "phases", "resources"),
        *("pages", "recipes", "results", "teachers", "training"),
    },
}


def part_of(module: str) -> str:
    """``jasper_tc.training.loop`` -> ``training``; the root package itself -> ``jasper_tc``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def imported_modules(path: Path, package: Path) -> set[str]:
    """Absolute names of the package's modules imported by the file ``path`` of ``package``."""
    module = ".".join(path.relative_to(package.parent).with_suffix("").parts)  # a package is its __init__
    root = package.name
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: -node.level]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            if name == root or name.startswith(root + "."):
                found.add(name)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name == root or a.name.startswith(root + "."))
    return found


def forbidden_imports(package: Path) -> list[str]:
    """Every import that crosses the layout, as ``file: imports module (part may import: ...)``."""
    problems = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        part = relative.parts[0].removesuffix(".py")
        if part not in ALLOWED:
            continue  # cli, __main__, the root __init__: they may import anything
        for name in sorted(imported_modules(path, package)):
            target = part_of(name)
            if target != part and target not in ALLOWED[part]:
                allowed = ", ".join(sorted(ALLOWED[part])) or "nothing else"
                problems.append(f"{relative}: imports {name} ({part} may import: {allowed})")
    return problems


def test_every_import_follows_the_layout():
    assert forbidden_imports(PACKAGE) == []


def test_every_part_of_the_package_has_a_rule():
    parts = {
        p.name.removesuffix(".py") for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").is_file()
    }
    assert parts - set(ALLOWED) == {"__init__", "__main__", "cli"}


@pytest.mark.parametrize(
    ("file", "source", "expected"),
    [
        ("serving/app.py", "from ..evaluation import report\n", "serving/app.py: imports jasper_tc.evaluation"),
        ("training/data.py", "from ..teachers.run import teach\n", "training/data.py: imports jasper_tc.teachers.run"),
        ("model/__init__.py", "from ..encode import load\n", "model/__init__.py: imports jasper_tc.encode"),
        ("store/ids.py", "import jasper_tc.corpus\n", "store/ids.py: imports jasper_tc.corpus"),
    ],
)
def test_the_check_catches_a_forbidden_import(tmp_path, file, source, expected):
    package = tmp_path / "jasper_tc"
    (package / file).parent.mkdir(parents=True)
    (package / file).write_text(source)
    (package / "training" / "ok.py").parent.mkdir(exist_ok=True)
    (package / "training" / "ok.py").write_text("from ..model import JasperTCModel\nfrom . import data\n")
    problems = forbidden_imports(package)
    assert len(problems) == 1 and problems[0].startswith(expected), problems


def test_the_check_sees_relative_imports():
    found = imported_modules(PACKAGE / "model" / "__init__.py", PACKAGE)
    assert "jasper_tc.model.compressor" in found


def _length(node: ast.FunctionDef | ast.AsyncFunctionDef, command: bool) -> int:
    """Lines of a function; of a command-line verb, from its body on (its typer option declarations aside)."""
    first = node.body[0].lineno if command else node.lineno
    return node.end_lineno - first + 1


def test_modules_and_functions_stay_small():
    """Small modules with one job: none over 400 lines, no function over 60 (split it, or say why here)."""
    too_long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > 400:
            too_long.append(f"{path.relative_to(PACKAGE)}: {len(text.splitlines())} lines")
        command = path.relative_to(PACKAGE).parts[0] == "cli"
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _length(node, command) > 60:
                too_long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}()")
    assert too_long == []
