"""The compression-training study runs its variants through adapt's recipe, keeps each run and resumes."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from jasper_tc.studies.compression import VARIANTS, CompressionStudy, run_compression_study

pytestmark = pytest.mark.slow


def test_the_study_trains_each_variant_once_and_records_the_same_evaluation(tmp_path):
    # fixed-only asks for 300 steps of its own; one step is enough to show it runs its one stage
    chosen = tuple(
        replace(v, overrides=(*v.overrides, "fixed.steps=1")) if v.name == "fixed-only" else v
        for v in VARIANTS
        if v.name in ("base", "mlp-only", "fixed-only")
    )
    study = CompressionStudy(
        output=tmp_path, paragraphs=24, variants=chosen, eval_limit=8, ratios=(1.0, 0.33),
        base_overrides=("stages.steps=1", "stages.batch_size=4", "stages.checkpoint.every=0", "fixed.steps=1"),
    )  # fmt: skip
    results = run_compression_study(study, say=lambda _: None)
    assert set(results["runs"]) == {"base", "mlp-only", "fixed-only"}
    for name, run in results["runs"].items():
        tasks = {(r["task_name"], r["compression_ratio"]) for r in run["results"]}
        assert tasks == {(t, r) for t in ("XQuAD-en", "Wiki-title2article-en", "STSB-en") for r in (1.0, 0.33)}, name
    assert results["runs"]["mlp-only"]["stages"]["fixed"]["trainable"] == ["jasper_mlp.*"]
    assert list(results["runs"]["fixed-only"]["stages"]) == ["fixed"]
    assert results["runs"]["base"]["texts"]["documents"] == 24
    # a second run trains nothing: every run is read back from its record
    before = (tmp_path / "runs" / "base" / "record.json").stat().st_mtime
    again = run_compression_study(study, say=lambda _: None)
    assert (tmp_path / "runs" / "base" / "record.json").stat().st_mtime == before
    assert json.dumps(again["runs"], sort_keys=True) == json.dumps(results["runs"], sort_keys=True)
