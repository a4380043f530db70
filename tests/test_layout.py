"""The data flows one way: model <- encode <- {evaluation, serving}; model and corpus import nothing else."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "jasper_tc"


def imported_package_modules(folder: Path) -> set[str]:
    """Absolute names of the ``jasper_tc`` modules imported by the files under ``folder``."""
    found = set()
    for path in [folder] if folder.is_file() else folder.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:  # relative: resolve against this module's package
                    base = module.split(".")[: -node.level]
                    name = ".".join([*base, node.module] if node.module else base)
                else:
                    name = node.module or ""
                if name.startswith("jasper_tc"):
                    found.add(name)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names if alias.name.startswith("jasper_tc"))
    return found


def test_model_imports_only_itself():
    outside = {name for name in imported_package_modules(PACKAGE / "model") if not name.startswith("jasper_tc.model")}
    assert outside == set(), f"jasper_tc.model must not import {sorted(outside)}"


@pytest.mark.parametrize("leaf", ["corpus.py", "configs.py", "store"])
def test_leaf_modules_import_nothing_else_from_the_package(leaf):
    own = f"jasper_tc.{leaf.removesuffix('.py')}"
    assert {name for name in imported_package_modules(PACKAGE / leaf) if not name.startswith(own)} == set()


def test_encode_imports_only_model_and_corpus():
    allowed = ("jasper_tc.model", "jasper_tc.encode", "jasper_tc.corpus")
    outside = {name for name in imported_package_modules(PACKAGE / "encode") if not name.startswith(allowed)}
    assert outside == set(), f"jasper_tc.encode must not import {sorted(outside)}"


def test_training_reads_stores_and_models_but_not_evaluation_or_serving():
    imported = imported_package_modules(PACKAGE / "training")
    assert not {name for name in imported if name.startswith(("jasper_tc.evaluation", "jasper_tc.serving"))}
    assert "jasper_tc.store" in imported and "jasper_tc.model" in imported


def test_serving_sees_only_the_encoder_and_the_model():
    allowed = ("jasper_tc.serving", "jasper_tc.encode", "jasper_tc.model", "jasper_tc")
    imported = imported_package_modules(PACKAGE / "serving")
    assert {name for name in imported if not name.startswith(allowed) or name == "jasper_tc.training"} == set()
    assert not any(name.startswith(("jasper_tc.training", "jasper_tc.teachers")) for name in imported)


def test_the_check_sees_relative_imports():
    assert "jasper_tc.model.compressor" in imported_package_modules(PACKAGE / "model")
