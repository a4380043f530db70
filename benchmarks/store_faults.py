"""The fault table, as a user meets it: ``jasper-tc encode --output DIR --shard-format npy`` over 300 texts (3
shards), one shard damaged (16 bytes flipped, cut to half, deleted), then the store read with
``EmbeddingStore(DIR)`` and the same command run again; the folder compared with an undamaged run.

    python benchmarks/store_faults.py
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.faults import FAULTS, folder_bytes, inject

from _common import table_head, table_row, write_results
from jasper_tc.resources import DATA
from jasper_tc.store import EmbeddingStore, StoreError

MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def encode(corpus: Path, output: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "jasper_tc", "encode", "--model", MODEL, "--input", str(corpus)]
    command += ["--output", str(output), "--shard-format", "npy", "--shard-rows", "100", "--id-field", "id"]
    return subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, HF_HUB_OFFLINE="1"))


def read(folder: Path) -> str:
    try:
        store = EmbeddingStore(folder)
        store[150]  # a row of the damaged shard
        return "reads without a word"
    except (StoreError, OSError, ValueError) as error:
        said = str(error).replace(str(folder) + "/", "").replace(str(folder), folder.name)
        return f"`{type(error).__name__}`: {said[:110]}"


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        with gzip.open(DATA / "quickstart" / "paragraphs.jsonl.gz", "rt", encoding="utf-8") as source:
            rows = [json.loads(next(source)) for _ in range(300)]
        corpus = root / "texts.jsonl"
        corpus.write_text("".join(json.dumps({"id": r["id"], "text": r["text"]}) + "\n" for r in rows))
        clean = root / "clean"
        assert encode(corpus, clean).returncode == 0
        lines = table_head("damage", "reading the store", "the same command again", "ends as the undamaged run", left=3)
        for fault in FAULTS:
            folder = root / fault
            shutil.copytree(clean, folder)
            inject(folder / "shard-000001.npy", fault)
            said = read(folder)
            again = encode(corpus, folder)
            message = next((line for line in again.stderr.splitlines() if "shard-000001" in line), "")
            rerun = f"exit {again.returncode}; " + message.replace(str(folder) + "/", "")[:110]
            same = folder_bytes(folder) == folder_bytes(clean)
            lines.append(table_row(fault, said, rerun, "yes" if same else "no"))
    text = "\n".join(lines) + "\n"
    print(text)
    write_results("store_faults", text)


if __name__ == "__main__":
    main()
