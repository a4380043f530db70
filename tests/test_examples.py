"""Every Python and shell block of the README and the documentation pages runs, as a reader would run it.

Hub names resolve offline through a hub cache built here: the release's name to a tiny random Jasper-TC
on Qwen3 (the real code path, in seconds) and sentence-transformers/all-MiniLM-L6-v2 to the real MiniLM.
A page's blocks run in order, each in its own process, in a folder that holds the sample files the pages
name (``corpus.jsonl``, ``my_texts.jsonl``, ...) and links to ``configs/`` and ``data/`` as a clone has.
A block after ``<!-- example: skip (why) -->`` is not run; one after ``<!-- example: background (why) -->``
is started, waited for (a server, on the port it names) and stopped when the page ends. Commands that
train are given ``--scale smoke`` (:data:`FASTER`), the one change made to what a page says.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RELEASE = "infgrad/Jasper-Token-Compression-600M"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
FASTER = {"jasper-tc adapt ": "jasper-tc adapt --scale smoke "}
BLOCK = re.compile(r"(?:<!-- example: (?P<mark>\w+)[^>]*-->\n)?```(?P<lang>python|bash)\n(?P<code>.*?)```", re.S)


@dataclass(frozen=True)
class Example:
    page: str
    line: int
    lang: str
    code: str
    mark: str | None  # None (run it), "skip" or "background"


def examples(text: str, page: str) -> list[Example]:
    """The Python and shell blocks of a Markdown page, with their marks; an unknown mark is an error."""
    found = []
    for match in BLOCK.finditer(text):
        mark = match["mark"]
        if mark not in (None, "skip", "background"):
            raise ValueError(f"{page}: unknown example mark {mark!r} (skip or background)")
        line = text.count("\n", 0, match.start("code"))
        found.append(Example(page, line, match["lang"], match["code"], mark))
    return found


def _faster(code: str) -> str:
    for slow, fast in FASTER.items():
        code = code.replace(slow, fast)
    return code


def _cache_model(hub: Path, name: str, folder: Path) -> None:
    """``folder`` as the hub cache keeps ``name``'s snapshot, so that offline loading finds it."""
    repo = hub / f"models--{name.replace('/', '--')}"
    revision = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    shutil.copytree(folder, repo / "snapshots" / revision, symlinks=False)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, tiny_qwen3_checkpoint, minilm_path) -> tuple[Path, dict]:
    """A folder with the pages' sample files and an environment whose hub cache holds the two models."""
    home = tmp_path_factory.mktemp("hf-home")
    _cache_model(home / "hub", RELEASE, Path(tiny_qwen3_checkpoint))
    _cache_model(home / "hub", MINILM, Path(minilm_path))
    work = tmp_path_factory.mktemp("reader")
    for name in ("configs", "data"):
        (work / name).symlink_to(ROOT / name)
    with gzip.open(ROOT / "data" / "quickstart" / "paragraphs.jsonl.gz", "rt") as lines:
        rows = [json.loads(line) for _, line in zip(range(300), lines)]
    texts = [{"id": f"p{i}", "text": row["text"]} for i, row in enumerate(rows)]
    corpus = "".join(json.dumps(t) + "\n" for t in texts[:40])
    (work / "corpus.jsonl").write_text(corpus)
    (work / "corpus.jsonl.gz").write_bytes(gzip.compress(corpus.encode()))
    (work / "my_texts.jsonl").write_text("".join(json.dumps(t) + "\n" for t in texts))
    long = [{"id": f"l{i}", "text": " ".join(t["text"] for t in texts[i * 20 : (i + 1) * 20])} for i in range(4)]
    (work / "long.jsonl").write_text("".join(json.dumps(t) + "\n" for t in long))
    bin_dir = str(Path(sys.executable).parent)
    env = os.environ | {"HF_HOME": str(home), "HF_HUB_OFFLINE": "1", "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    env.pop("JASPER_TC_API_KEY", None)
    return work, env


def _run(example: Example, cwd: Path, env: dict) -> None:
    command = [sys.executable, "-c", example.code] if example.lang == "python" else ["bash", "-euo", "pipefail"]
    stdin = None if example.lang == "python" else _faster(example.code)
    done = subprocess.run(command, input=stdin, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        pytest.fail(f"{example.page}:{example.line}: the example failed ({done.returncode}):\n{done.stderr[-4000:]}")


def _start(example: Example, cwd: Path, env: dict) -> subprocess.Popen:
    """A server block, started and waited for until its /health answers."""
    port = re.search(r"--port (\d+)", example.code)
    assert port, f"{example.page}:{example.line}: a background example names its --port"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "text": True}
    server = subprocess.Popen(["bash", "-c", example.code], cwd=cwd, env=env, start_new_session=True, **quiet)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"{example.page}:{example.line}: the server exited:\n{server.stderr.read()[-4000:]}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port[1]}/health", timeout=2)
            return server
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"{example.page}:{example.line}: the server did not answer within 180 s")


def run_page(path: Path, cwd: Path, env: dict) -> int:
    """Run every example of a page in order; the number run."""
    servers, ran = [], 0
    try:
        for example in examples(path.read_text(), path.name):
            if example.mark == "skip":
                continue
            if example.mark == "background":
                servers.append(_start(example, cwd, env))
            else:
                _run(example, cwd, env)
            ran += 1
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
    return ran


def test_examples_are_found_with_their_marks():
    text = "a\n```python\nprint(1)\n```\n<!-- example: skip (slow) -->\n```bash\nmake all\n```\n```text\nno\n```\n"
    found = examples(text, "page.md")
    assert [(e.lang, e.code, e.mark, e.line) for e in found] == [
        ("python", "print(1)\n", None, 2),
        ("bash", "make all\n", "skip", 6),
    ]
    with pytest.raises(ValueError, match="page.md: unknown example mark 'later'"):
        examples("<!-- example: later -->\n```bash\nls\n```\n", "page.md")


def test_a_broken_example_fails_naming_its_page_and_line(tmp_path, workspace):
    work, env = workspace
    page = tmp_path / "page.md"
    page.write_text("Text.\n\n```python\nimport jasper_tc\njasper_tc.load('no/such-model')\n```\n")
    with pytest.raises(pytest.fail.Exception, match=r"page.md:3: the example failed"):
        run_page(page, work, env)


def test_the_readme_has_its_usage_first_and_few_skipped_examples():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    first_python = text[: text.index("```python")].count("\n")
    assert first_python < 40
    every = [e for page in PAGES for e in examples(page.read_text(), page.name)]
    skipped = [e for e in every if e.mark == "skip"]
    assert len(skipped) <= len(every) // 3, [f"{e.page}:{e.line}" for e in skipped]


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_example_of_the_page_runs(page, workspace):
    work, env = workspace
    run_page(page, work, env)


def test_the_documentation_site_builds_strictly(tmp_path):
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent))
    assert mkdocs, "mkdocs is installed with the dev extra"
    env = os.environ | {"NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([mkdocs, "build", "--strict", "-d", str(tmp_path / "site")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    assert (tmp_path / "site" / "api" / "index.html").is_file()
