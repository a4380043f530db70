"""What a user's machine has: the repository or the installed package, and nothing beside it.

The development machines keep ``../shared`` beside the checkout, which would hide a command that reads it.
These tests run the user's commands from a copy of the tracked files in a folder with nothing beside it,
and from a non-editable install of the package, run from an unrelated folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_the_shipped_data_rebuilds_byte_for_byte_from_the_full_sets(tmp_path):
    from jasper_tc.resources import DATA

    from .helpers import SHARED

    subprocess.run(
        [sys.executable, str(ROOT / "scripts/build_data.py"), str(SHARED / "data"), "--output", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    built = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    shipped = sorted(p.relative_to(DATA) for p in DATA.rglob("*") if p.is_file() and p.name != "README.md")
    if not Path("/usr/share/doc/python3.11/html/_sources").is_dir():  # Debian's python3.11-doc: its pages
        shipped = [p for p in shipped if "python_docs_long_en" not in p.parts]
    assert built == shipped
    for relative in built:
        assert (tmp_path / relative).read_bytes() == (DATA / relative).read_bytes(), relative
    assert sum((DATA / p).stat().st_size for p in shipped) < 7_000_000  # the repository stays lean


def _clone(target: Path) -> Path:
    """The tracked files of this checkout (links kept as links), as a fresh clone would have them."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source, copy = ROOT / name, target / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree
        copy.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            copy.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, copy)
    return target


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def _numbers_only(table: str) -> None:
    """Every score cell of a Markdown results table is a number."""
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| task")]
    assert rows
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")][4:]  # after task, type, lang, metric
        assert cells and all(re.fullmatch(r"-?\d+\.\d+", c) for c in cells), row


def _card_numbers_only(card: str) -> None:
    """Every score cell of the adapted model's quality table is a number (or a share)."""
    lines = card.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| task | original, r=1 |"))
    table = [line for line in lines[start + 2 :] if line.startswith("| ")]
    table = table[: next((i for i, line in enumerate(lines[start + 2 :]) if not line.startswith("| ")), len(table))]
    assert table
    for row in table:
        cells = [c.strip().strip("*%") for c in row.strip("|").split("|")][1:]
        assert all(re.fullmatch(r"-?\d+(\.\d+)?", c) for c in cells), row


@pytest.mark.slow
def test_quickstart_and_reproduction_run_in_a_clone_with_nothing_beside_it(tmp_path):
    """The smoke quickstart (adapt) and the four-stage life cycle from a copy with no ``shared`` beside it;
    they resume, the reproduction continues the life cycle's folder, and a missing shipped file stops
    the quickstart with a message naming the phase and the file."""
    clone = _clone(tmp_path / "empty" / "jasper-tc")
    assert not (clone.parent / "shared").exists()
    env = {**os.environ, "PYTHONPATH": str(clone / "src")}
    env.pop("HF_HUB_OFFLINE", None)  # the command sets it itself
    where = _run([sys.executable, "-c", "import jasper_tc; print(jasper_tc.__file__)"], clone, env)
    assert Path(where.stdout.strip()).is_relative_to(clone), where  # the copy's code, not this checkout's
    quickstart = [sys.executable, "-m", "jasper_tc", "quickstart", "--scale", "smoke", "--output", "qs"]

    first = _run(quickstart, clone, env)
    assert first.returncode == 0, first.stderr[-3000:]
    card = (clone / "qs" / "model" / "README.md").read_text()
    assert "| Wiki-title2article-en |" in first.stdout and "## Closeness to the original" in card
    _card_numbers_only(card)
    trained = (clone / "qs" / "model" / "model.safetensors").stat().st_mtime
    again = _run(quickstart, clone, env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert (clone / "qs" / "train" / "dynamic" / "model" / "model.safetensors").stat().st_mtime <= trained

    four = [*quickstart[:-2], "--recipe", "four-stage", "--output", "fs"]
    lifecycle = _run(four, clone, env)
    assert lifecycle.returncode == 0, lifecycle.stderr[-3000:]
    output = clone / "fs"
    assert "student: 6 layers + jasper_mlp r=0.33" in lifecycle.stdout and "| **mean** |" in lifecycle.stdout
    report = (output / "report.md").read_text()
    assert "stage 4: InfoNCE" in report and (output / "report" / "comparison.png").stat().st_size > 1000
    _numbers_only(report.split("## Quality against compression ratio")[1].split("![")[0])
    mtime = (output / "stage4" / "model" / "model.safetensors").stat().st_mtime

    # The reproduction's smoke scale continues the same folder: it adds only its own runs.
    page = clone / "docs" / "reproduction-smoke.md"
    study = _run(
        [*quickstart[:3], "reproduce", "--scale", "smoke", "--output", "fs", "--document", str(page)], clone, env
    )
    assert study.returncode == 0, study.stderr[-3000:]
    assert (output / "stage4" / "model" / "model.safetensors").stat().st_mtime == mtime
    results = json.loads((output / "results.json").read_text())
    runs = {"teacher", "stage1", "stage2-start", "stage2", "stage3", "stage4"}
    runs |= {"stage3-fixed-seed0", "stage3-dynamic-seed1", "stage3-fixed-seed1"}
    assert set(results["scores"]) == runs
    assert all(set(results["scores"][run]["XQuAD-en"]) == {"1", "0.33"} for run in runs)
    assert all(v is not None for run in runs for task in results["scores"][run].values() for v in task.values())
    for run, schedule, seed in (("stage3-fixed-seed1", "fixed", 1), ("stage3-dynamic-seed1", "algorithm2", 1)):
        config = yaml.safe_load((output / run / "config.yaml").read_text())
        assert (config["compression"]["schedule"], config["seed"], config["steps"]) == (schedule, seed, 2)
    assert config["start"]["checkpoint"] == "fs/stage2/model"  # the same start for every variant
    text = page.read_text()
    assert "## 2. Dynamic-ratio training keeps quality flatter" in text and "## 4. The student against" in text
    assert (page.parent / "reproduction-smoke" / "claims.png").stat().st_size > 10_000

    # A shipped eval file gone: the evaluation phases fail loudly, naming the phase, the task and the file.
    missing = clone / "src/jasper_tc/resources/data/eval/retrieval/xquad_en_zh/corpus-en.jsonl.gz"
    missing.unlink()
    shutil.rmtree(clone / "qs" / "eval")
    shutil.rmtree(clone / "qs" / "model")
    broken = _run(quickstart, clone, env)
    assert broken.returncode == 1
    message = broken.stderr.strip().splitlines()[-2:]
    assert message[0] == "error: phase 'evaluate the original, pooled training-free' failed: 1 task(s) failed:"
    assert message[1].startswith("  XQuAD-en (ratio 1, 0.33): task XQuAD-en: ") and str(missing) in message[1]
    assert not (clone / "qs" / "model").exists()


@pytest.mark.slow
def test_a_non_editable_install_runs_the_quickstart_from_any_folder(tmp_path):
    """``pip install .`` into a new environment: the commands find recipes and data inside the package."""
    clone = _clone(tmp_path / "src-copy")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], tmp_path, {**os.environ}
        ).stdout.strip()
    )
    # Dependencies come from this environment's packages (no download); its own jasper-tc (editable) is not
    # seen, since a path line in a .pth file does not run that folder's .pth files.
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    install = _run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(clone)], tmp_path, {**os.environ})
    assert install.returncode == 0, install.stderr[-3000:]
    shutil.rmtree(clone)  # nothing of the source is left to lean on

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HF_HUB_OFFLINE")}
    where = _run([str(python), "-c", "import jasper_tc; print(jasper_tc.__file__)"], elsewhere, env)
    assert Path(where.stdout.strip()).is_relative_to(site), where
    command = venv / "bin" / "jasper-tc"
    result = _run([str(command), "quickstart", "--scale", "smoke", "--output", "qs"], elsewhere, env)
    assert result.returncode == 0, result.stderr[-3000:]
    _card_numbers_only((elsewhere / "qs" / "model" / "README.md").read_text())
    listed = _run([str(command), "eval", "--help"], elsewhere, env)
    assert "local-bilingual" in listed.stdout
