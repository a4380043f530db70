"""The mteb adapter on mteb's own STSBenchmark task, with its data read from ../shared (no hub)."""

from __future__ import annotations

import csv
import gzip

import pytest

mteb = pytest.importorskip("mteb")

from datasets import Dataset, DatasetDict  # noqa: E402

from jasper_tc.evaluation.mteb_adapter import JasperMTEBModel, release_prompts  # noqa: E402

from ..helpers import SHARED  # noqa: E402


def local_sts_benchmark(rows: int = 200):
    """mteb's STSBenchmark task whose test split is the first ``rows`` pairs of the shared copy."""
    task_class = type(mteb.get_task("STSBenchmark"))

    class LocalSTSBenchmark(task_class):
        def load_data(self, num_proc=None, **kwargs):
            path = SHARED / "data" / "sts" / "stsb_en" / "stsb-multi-mt-en-test.tsv.gz"
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
                records = [next(reader) for _ in range(rows)]
            self.dataset = DatasetDict(
                {
                    "test": Dataset.from_dict(
                        {
                            "sentence1": [r["sentence1"] for r in records],
                            "sentence2": [r["sentence2"] for r in records],
                            "score": [float(r["score"]) for r in records],
                        }
                    )
                }
            )
            self.data_loaded = True

    return LocalSTSBenchmark()


def test_release_instruction_table_is_the_qzhou_style_one():
    prompts = release_prompts()
    assert "STSBenchmark" in prompts and len(prompts) > 50


@pytest.mark.slow
def test_ratio_sweep_is_saved_as_separate_runs(minilm_path, tmp_path):
    from mteb.cache import ResultCache

    cache = ResultCache(tmp_path)
    scores, prompts = {}, set()
    for ratio in (1.0, 0.2):
        model = JasperMTEBModel(minilm_path, device="cpu", dtype=None, compression_ratio=ratio)
        assert model.mteb_model_meta.experiment_kwargs == {"compression_ratio": ratio}
        encode = model.encoder.encode

        def spy(texts, options, _encode=encode, _ratio=ratio, **kwargs):
            prompts.add(kwargs["prompt"])
            assert options.max_length == 256 and options.compression_ratio == _ratio
            return _encode(texts, options, **kwargs)

        model.encoder.encode = spy
        result = mteb.evaluate(model, local_sts_benchmark(), cache=cache, show_progress_bar=False)
        scores[ratio] = result.task_results[0].get_score()
    assert 0.6 < scores[1.0] <= 1.0  # all-MiniLM-L6-v2 scores about 0.8 Spearman on STS-B test
    assert scores[0.2] == scores[1.0]  # STS-B sentences are shorter than 80 tokens: never compressed
    instruction = release_prompts()["STSBenchmark"]
    assert prompts == {f"Instruct: {instruction}\nQuery: "}  # both sides, release template
    saved = sorted(p.parent.name for p in tmp_path.rglob("STSBenchmark.json"))
    assert len(saved) == 2, saved


@pytest.mark.slow
def test_mteb_command_runs_the_named_tasks(minilm_path, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from jasper_tc.cli import app

    monkeypatch.setattr(mteb, "get_tasks", lambda tasks: [local_sts_benchmark(50)])
    result = CliRunner().invoke(
        app,
        [
            "mteb",
            "--model",
            minilm_path,
            "--tasks",
            "STSBenchmark",
            "--output-folder",
            str(tmp_path),
            "--dtype",
            "fp32",
            "--compression-ratio",
            "0.5",
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "STSBenchmark\t0." in result.output
    assert list(tmp_path.rglob("STSBenchmark.json"))
