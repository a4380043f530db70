"""Where does compression lose what a model knows? Training-free, on all-MiniLM-L6-v2 itself.

The same average pool placed differently: on the input embeddings or after layer k (``compress_after_layer``),
with [CLS] and [SEP] pooled into their neighbours or kept apart (``compress_keep_ends``), with positions
renumbered after the pool or kept (``compress_positions``). For each placement: nDCG@10 on the long-text
English tasks at 256 tokens, ms per document at 256 and 512 tokens (this machine, same run), and how close
the compressed model's token states stay, layer by layer, to the uncompressed model's states pooled by the
same windows -- where the information goes.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..atomic import atomic_write_json
from ..phases import PhaseClock
from ..recipes import LONG_TASKS

__all__ = ["PLACEMENTS", "Placement", "apply_placement", "run_diagnosis"]

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
RATIOS = (1.0, 0.33, 0.1)


@dataclass(frozen=True)
class Placement:
    after_layer: int = 0
    keep_ends: int = 0
    positions: str = "renumber"

    @property
    def name(self) -> str:
        where = "input" if self.after_layer == 0 else f"after-{self.after_layer}"
        return f"{where}{'-ends' if self.keep_ends else ''}{'-keep-positions' if self.positions == 'keep' else ''}"


PLACEMENTS = (
    Placement(),  # the release's pool
    Placement(keep_ends=1),
    Placement(positions="keep"),
    Placement(keep_ends=1, positions="keep"),
    *(Placement(after_layer=k, keep_ends=e) for k in range(1, 6) for e in (0, 1)),
)


def apply_placement(model, placement: Placement) -> None:
    """Set where and how ``model`` pools (its config and its compressor), in place."""
    model.config.compress_after_layer = placement.after_layer
    model.config.compress_keep_ends = placement.keep_ends
    model.config.compress_positions = placement.positions
    model.token_compressor.keep_ends = placement.keep_ends


def _states(model, ids, mask, ratio: float, placement: Placement) -> list[tuple[torch.Tensor, torch.Tensor, bool]]:
    """Token states, their mask, and whether they are pooled yet, after every layer."""
    from ..model.layers import layer_stepper

    stepper = layer_stepper(model.model)
    pools = ratio < 1
    pool_first = placement.after_layer == 0 and placement.positions == "renumber"  # the release: before positions
    positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
    hidden = model.model.get_input_embeddings()(ids)
    if pools and pool_first:
        hidden, mask = model.pool(hidden, mask, ratio)
        positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
    states, out, pooled = stepper.start(hidden, positions), [], pools and pool_first
    for layer in range(len(stepper.layers)):
        if pools and not pool_first and layer == placement.after_layer:
            states, mask = model.pool(states, mask, ratio)
            positions, pooled = (mask.long().cumsum(-1) - 1).clamp(min=0), True
        states = stepper.run(states, mask, positions, layer, layer + 1)
        out.append((states, mask, pooled))
    return out


@torch.inference_mode()
def layer_closeness(model, tokenizer, documents: list[str], ratio: float, placement: Placement) -> list[float]:
    """Per layer: mean cosine of each compressed token state to the uncompressed states of its window, pooled
    the same way (the uncompressed run's states put through the same pool)."""
    batch = tokenizer(documents, padding=True, truncation=True, max_length=256, return_tensors="pt")
    ids, mask = batch["input_ids"], batch["attention_mask"]
    full = _states(model, ids, mask, 1.0, placement)
    compressed = _states(model, ids, mask, ratio, placement)
    closeness = []
    for (states, states_mask, pooled), (reference, full_mask, _) in zip(compressed, full):
        target = model.pool(reference, full_mask, ratio)[0] if pooled else reference  # before the pool: the same
        cosine = F.cosine_similarity(states.float(), target.float(), dim=-1)  # (B, T)
        closeness.append(float((cosine * states_mask).sum() / states_mask.sum()))
    return closeness


def _measure(model, tokenizer, placement: Placement, documents: list[str], suite, folder: Path) -> dict:
    from ..encode import EncodeOptions, Encoder
    from ..encode.backends import JasperBackend
    from ..evaluation.suite import run_suite

    apply_placement(model, placement)
    encoder = Encoder(JasperBackend(model, tokenizer))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tasks, root = suite
        options = EncodeOptions(max_length=256)
        ratios = list(RATIOS) if placement == PLACEMENTS[0] else [r for r in RATIOS if r < 1]  # r=1: no pool anywhere
        records = run_suite(encoder, tasks, root, ratios, folder, model_name=placement.name, options=options)
    closeness = {f"{r:g}": layer_closeness(model, tokenizer, documents[:48], r, placement) for r in RATIOS if r < 1}
    return {"placement": asdict(placement), "results": records, "closeness": closeness}


def _speeds(model, tokenizer, documents: list[str], folder: Path) -> dict[str, list[dict]]:
    """ms per document of every placement at 256 and 512 tokens, in alternating rounds (median of 3); kept."""
    from ..encode import Encoder
    from ..encode.backends import JasperBackend
    from ..evaluation.report import timed_rounds

    kept = folder / "speed.json"
    if kept.is_file():
        return json.loads(kept.read_text(encoding="utf-8"))
    encoder = Encoder(JasperBackend(model, tokenizer))
    encoder.backend.max_length = 512  # measure past the default cut of 256, within the 512 positions

    def setup(placement: Placement):
        apply_placement(model, placement)
        return encoder

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        setups = {p.name: (lambda p=p: setup(p)) for p in PLACEMENTS}
        rows = timed_rounds(setups, documents[:32], [256, 512], list(RATIOS))
    atomic_write_json(kept, rows)
    return rows


def run_diagnosis(output: Path, say: Callable[[str], None] = print, limit: int | None = None) -> dict:
    """Every placement, training-free; kept per placement in ``output/diagnosis`` and resumed."""
    from ..adapt import inspect_source
    from ..evaluation.report import long_documents
    from ..evaluation.tasks import load_suite, select_tasks
    from ..model import build_student
    from ..resources import DATA, find_suite

    source = inspect_source(MODEL)
    model, tokenizer = build_student(source.path, source.hidden_size, linear_init="identity")
    model.eval()
    suite, root = load_suite(find_suite("local-bilingual"))
    tasks = (select_tasks(suite, list(LONG_TASKS), limit=limit, prompts=False), root)
    documents = long_documents(DATA / "eval" / "long_docs/wiki_long_en/wiki-en-long-docs.jsonl.gz", 48)
    clock = PhaseClock(say)
    runs = {}
    for placement in PLACEMENTS:
        record = output / "diagnosis" / f"{placement.name}.json"
        if not record.is_file():
            with clock.phase(f"diagnosis: {placement.name}"):
                started = time.perf_counter()
                folder = output / "diagnosis" / placement.name
                measured = _measure(model, tokenizer, placement, documents, tasks, folder)
                measured["seconds"] = round(time.perf_counter() - started, 1)
                atomic_write_json(record, measured)
        runs[placement.name] = json.loads(record.read_text(encoding="utf-8"))
    with clock.phase("diagnosis: speed of every placement, alternating rounds"):
        speeds = _speeds(model, tokenizer, documents, output / "diagnosis")
    for name, run in runs.items():
        run["speed"] = speeds[name]
    return {"model": MODEL, "ratios": list(RATIOS), "tasks": list(LONG_TASKS), "limit": limit, "runs": runs}
