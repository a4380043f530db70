"""Which windows the pool averages over, training-free, on all-MiniLM-L6-v2 itself.

The release's pool is an adaptive average pool: window j spans tokens floor(j*n/t) .. ceil((j+1)*n/t) - 1, so
where two windows meet they share a token, and at ratios near 1 nearly every window blends two or three
tokens (at 0.7 of 256 tokens, windows of 1.4 tokens each read 2.4 on average). Disjoint windows
(``compress_windows: disjoint``) put each token in one window, so that most windows at such ratios are a
token kept whole. Each pair is measured with and without 39 tokens at each end kept whole. Windows chosen by
the text (``compress_pool: merge``: the most alike neighbours merged first) are measured with [CLS] and [SEP]
kept whole and with 39 tokens at each end.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path

from ..atomic import atomic_write_json
from ..phases import PhaseClock
from ..recipes import LONG_TASKS
from .diagnosis import MODEL

__all__ = ["PROBES", "WINDOW_RATIOS", "run_windows_probe"]

WINDOW_RATIOS = (0.7, 0.5, 0.33, 0.1)
FIXED = tuple((ends, windows) for ends in (0, 39) for windows in ("overlapping", "disjoint"))
PROBES = (*FIXED, (1, "merge"), (39, "merge"))


def probe_name(keep_ends: int, windows: str) -> str:
    return f"ends{keep_ends}-{windows}"


def run_windows_probe(
    output: Path, say: Callable[[str], None] = print, limit: int | None = None, known: dict | None = None
) -> dict:
    """Every probe's nDCG@10 on the long-text English tasks at 256 tokens; kept per probe in
    ``output/windows`` and resumed; ``known``: an earlier probe's results (its runs are not measured again)."""
    from ..adapt import inspect_source
    from ..encode import EncodeOptions, Encoder
    from ..encode.backends import JasperBackend
    from ..evaluation.suite import run_suite
    from ..evaluation.tasks import load_suite, select_tasks
    from ..model import build_student, configure_compression
    from ..resources import find_suite

    source = inspect_source(MODEL)
    model, tokenizer = build_student(source.path, source.hidden_size, linear_init="identity")
    model.eval()
    suite, root = load_suite(find_suite("local-bilingual"))
    tasks = select_tasks(suite, list(LONG_TASKS), limit=limit, prompts=False)
    clock, runs = PhaseClock(say), {}
    earlier = (known or {}).get("runs", {}) if (known or {}).get("limit") == limit else {}
    for keep_ends, windows in PROBES:
        name = probe_name(keep_ends, windows)
        record = output / "windows" / f"{name}.json"
        if name in earlier and not record.is_file():
            record.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(record, earlier[name])
        if not record.is_file():
            with clock.phase(f"windows: {name}"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                merged = windows == "merge"
                pool, windows_key = ("merge", None) if merged else ("mean", windows)
                configure_compression(model, keep_ends=keep_ends, windows=windows_key, pool=pool)
                encoder = Encoder(JasperBackend(model, tokenizer))
                options = EncodeOptions(max_length=256)
                folder = output / "windows" / name
                records = run_suite(encoder, tasks, root, list(WINDOW_RATIOS), folder, model_name=name, options=options)
                atomic_write_json(record, {"keep_ends": keep_ends, "windows": windows, "results": records})
        runs[name] = json.loads(record.read_text(encoding="utf-8"))
    return {"model": MODEL, "ratios": list(WINDOW_RATIOS), "tasks": list(LONG_TASKS), "limit": limit, "runs": runs}
