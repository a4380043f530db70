"""The quality-speed frontier of where and how to compress a given embedding model (all-MiniLM-L6-v2).

First the training-free diagnosis (:mod:`.diagnosis`, :mod:`.windows`): the pool placed on the input or after
layer k, ends kept, positions kept, which windows it averages over. Then designs trained with ``adapt``'s recipe,
one change each: the pool after a layer (with or without ``jasper_mlp``), [CLS] and [SEP] kept out, a scored
pool, windows chosen by the text (``compress_pool: merge``), a token-level term, a larger budget. Every run is
evaluated alike (the long-text English tasks at 256 tokens, STS-B) and timed as its shape (:mod:`.shapes`) in
the same rounds as the original (ms per document of 256 and 512 tokens on this machine, every ratio); each point
of a run is placed by its share of the original's ratio-1 score on the held-out task against its speed-up over
the original at ratio 1, and the frontier is the points no other point beats on both. ``results.json`` holds
every figure and verdict; :mod:`jasper_tc.pages.frontier` writes the page from it alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..adapt.designs import DESIGNS as ADAPT_DESIGNS
from ..adapt.designs import saved_design
from ..atomic import atomic_write_json
from ..phases import PhaseClock
from ..recipes import HELD_OUT_TASK, LONG_TASKS, SHORT_TASK, evaluate
from ..results import Verdict, ratio_key, scores_by_task, share
from .compression import MODEL, CompressionStudy, Variant, _data, _run, trained_model
from .diagnosis import run_diagnosis
from .shapes import TIMED_DOCUMENTS, shape_name, time_shapes
from .windows import run_windows_probe

__all__ = ["DESIGNS", "FrontierStudy", "judge", "run_frontier_study", "with_verdicts", "write_page"]

DESIGNS = tuple(Variant(d.name, "design", d.change, d.overrides) for d in ADAPT_DESIGNS.values())
BARS = ((1.55, 99.0), (2.0, 97.0))  # (speed-up over the original at ratio 1, share kept) the designs aim at
# adapt's ratios and more between them (a user picks any ratio per call): on documents of 256 tokens the bars'
# speed-ups fall near 0.6 (1.55x) and 0.33 (2x)
FRONTIER_RATIOS = (1.0, 0.7, 0.6, 0.5, 0.4, 0.33, 0.25, 0.2, 0.1)


@dataclass(frozen=True)
class FrontierStudy:
    output: Path
    variants: tuple[Variant, ...] = DESIGNS
    paragraphs: int = 2000
    base_overrides: tuple[str, ...] = ("fixed.steps=100", "dynamic.steps=300")  # the quickstart's budget
    ratios: tuple[float, ...] = FRONTIER_RATIOS
    speed_lengths: tuple[int, ...] = (256, 512)
    speed_documents: int = 32
    speed_rounds: int = 7  # alternating rounds, the median kept: one round on this machine can be 20% off
    eval_limit: int | None = None
    diagnosis: bool = True
    extra: dict = field(default_factory=dict)
    earlier: dict | None = None  # an earlier run's results.json: its runs not trained again are kept (see _kept)


def _designed_run(study: FrontierStudy, inner: CompressionStudy, plan, source, variant: Variant, data: dict) -> dict:
    """A design trained and evaluated (kept if done); the record of the run, with where and how it pools."""
    record = _run(inner, plan, source, variant, data)
    if "design" not in record:
        record["design"] = saved_design(_model(study, variant))
        atomic_write_json(study.output / "runs" / variant.name / "record.json", record)
    return record


def _model(study: FrontierStudy, variant: Variant) -> Path:
    return trained_model(study.output, variant)


def modelled_speed_up(design: dict | None, ratio: float, tokens: int = 1024) -> float:
    """The same design on the release's 600M backbone (28 layers, hidden 1024): forward multiply-adds of the
    original backbone at ratio 1 over the design's at ``ratio``, for one input of ``tokens``."""
    from ..model.cost import forward_flops
    from ..model.release import release_backbone_config

    config = release_backbone_config()
    design = design or {}
    after, mlp = design.get("compress_after_layer") or 0, bool(design.get("use_jasper_mlp"))
    return forward_flops(tokens, 1.0, config, mlp=False) / forward_flops(
        tokens, ratio, config, after_layer=after, mlp=mlp
    )


def run_frontier_study(study: FrontierStudy, say: Callable[[str], None] = print) -> dict:
    """The diagnosis, then every design (kept per run, so the study resumes); write and return ``results.json``."""
    from ..adapt import AdaptPlan, inspect_source

    out = study.output
    out.mkdir(parents=True, exist_ok=True)
    clock = PhaseClock(say)
    earlier = study.earlier or {}
    diagnosis = run_diagnosis(out, say) if study.diagnosis and not earlier.get("diagnosis") else None
    known = earlier.get("windows")
    windows = run_windows_probe(out, say, study.eval_limit, known) if study.diagnosis else known
    source = inspect_source(MODEL)
    plan = AdaptPlan(MODEL, Path(), out, ratios=study.ratios, eval_limit=study.eval_limit, dtype=None)
    inner = CompressionStudy(output=out, paragraphs=study.paragraphs, base_overrides=study.base_overrides, recipe=())
    with clock.phase("the original, pooled training-free"):
        if study.variants or not earlier.get("original"):
            original = evaluate(source.path, "original", out / "eval" / "original", plan.evaluation)
        else:  # nothing to train: the earlier original's scores, measured with the same evaluation
            original = earlier["original"]
    runs = {}
    if study.variants:
        with clock.phase("training texts and teacher store"):
            data = _data(inner, plan, source, "sample")
        for variant in study.variants:
            with clock.phase(f"design {variant.name}: {variant.change}"):
                runs[variant.name] = _designed_run(study, inner, plan, source, variant, data)
    runs = {name: dict(run) for name, run in earlier.get("runs", {}).items() if name not in runs} | runs
    with clock.phase("speed: the original and every run's shape, alternating rounds"):
        designs = {name: run["design"] for name, run in runs.items()}
        lengths, ratios = list(study.speed_lengths), list(study.ratios)
        timing = {"documents": study.speed_documents, "rounds": study.speed_rounds}
        speeds = time_shapes(source, designs, out / "speed.json", lengths, ratios, **timing)
    for run in runs.values():
        run["timed_as"] = shape_name(run["design"])
        run["speed"], run["speed_reference"] = speeds[run["timed_as"]], speeds["original"]
    results = {
        "study": {k: v for k, v in asdict(study).items() if k not in ("output", "variants", "earlier")}
        | {"model": MODEL},
        "variants": _kept(earlier, study.variants, "variants") + [asdict(v) for v in study.variants],
        "diagnosis": diagnosis or earlier.get("diagnosis"),
        "windows": windows,
        "original": original,
        "original_speed": speeds["original"],
        "speed_method": TIMED_DOCUMENTS,
        "runs": runs,
        "timings_s": dict(clock.timings),
        "machine": {"cpu_count": os.cpu_count()},
    }
    results = with_verdicts(results)
    atomic_write_json(out / "results.json", results)
    return results


def _kept(earlier: dict, trained: tuple[Variant, ...], key: str) -> list[dict]:
    """The entries of ``earlier[key]`` for runs this study does not train again."""
    names, current = {variant.name for variant in trained}, {variant.name: variant for variant in DESIGNS}
    kept = [entry for entry in earlier.get(key, []) if entry["name"] not in names]
    # what a run changes is said as the designs say it now (the shipped recipe moves on); its overrides stay
    return [entry | ({"change": current[entry["name"]].change} if entry["name"] in current else {}) for entry in kept]


def points(results: dict, length: int = 256) -> list[dict]:
    """Every (run, ratio): its share of the original's ratio-1 score on the held-out task and on the long tasks,
    and its speed-up over the original at ratio 1, at ``length`` tokens."""
    original = scores_by_task(results["original"])
    found = []
    for name, run in {"original (training-free)": {"results": results["original"], "speed": results["original_speed"]},
                      **results["runs"]}.items():  # fmt: skip
        scores = scores_by_task(run["results"])
        reference = run.get("speed_reference") or results["original_speed"]
        base = next(r for r in reference if r["length"] == length and r["ratio"] == 1.0)
        for row in run["speed"]:
            if row["length"] == length and ratio_key(row["ratio"]) in scores.get(HELD_OUT_TASK, {}):
                ratio = row["ratio"]
                speed = {"speed_up": base["ms_per_doc"] / row["ms_per_doc"], "ms_per_doc": row["ms_per_doc"]}
                speed["speed_up_rounds"] = _round_speed_ups(base, row)
                kept = {
                    "held_out_pct": share(scores, original, ratio, [HELD_OUT_TASK]),
                    "long_pct": share(scores, original, ratio, list(LONG_TASKS)),
                }
                modelled = {"modelled_600m_speed_up": modelled_speed_up(run.get("design"), ratio)}
                found.append({"run": name, "ratio": ratio, **speed, **kept, **modelled})
    for point in found:
        point["frontier"] = not any(
            other["speed_up"] >= point["speed_up"] and other["held_out_pct"] >= point["held_out_pct"]
            and (other["speed_up"], other["held_out_pct"]) != (point["speed_up"], point["held_out_pct"])
            for other in found
        )  # fmt: skip
    return found


def _round_speed_ups(base: dict, row: dict) -> list[float] | None:
    """The lowest and highest speed-up of one round's timing over the same round's original: how far a
    single round would have put it."""
    if "rounds" not in base or "rounds" not in row or len(base["rounds"]) != len(row["rounds"]):
        return None
    ups = [b / r for b, r in zip(base["rounds"], row["rounds"])]
    return [min(ups), max(ups)]


def judge(results: dict) -> list[Verdict]:
    """Per bar: the best share kept on the held-out task by a point at least that much faster than the
    original at ratio 1 (and which run and ratio it is), and whether it reaches the bar."""
    found, verdicts = points(results), []
    for speed_up, kept in BARS:
        fast = [p for p in found if p["speed_up"] >= speed_up and p["run"] != "original (training-free)"]
        best = max(fast, key=lambda p: p["held_out_pct"], default=None)
        figures = {"speed_up": speed_up, "kept_pct": kept, "best": best}
        verdicts.append(
            Verdict(
                f"keeps {kept:g}% at {speed_up:g}x", None if best is None else best["held_out_pct"] >= kept, figures
            )
        )
    return verdicts


def with_verdicts(results: dict) -> dict:
    """``results`` with every point, the frontier and the bars' verdicts."""
    judged = {"held_out_task": HELD_OUT_TASK, "long_tasks": list(LONG_TASKS), "short_task": SHORT_TASK}
    verdicts = [v.to_dict() for v in judge(results)]
    return results | {"judged": judged, "points": points(results), "verdicts": verdicts}


def write_page(results: dict, page: Path) -> dict:
    """The study's page from ``results`` alone, judged first."""
    from ..pages.frontier import write_frontier_page

    judged = with_verdicts(results)
    write_frontier_page(judged, page)
    return judged
