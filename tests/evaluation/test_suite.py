"""The local suite on the real MiniLM: results per task x ratio, shared encodings, failures isolated."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from jasper_tc.configs import ConfigError
from jasper_tc.evaluation.tasks import TaskError, load_suite, load_task, select_tasks
from jasper_tc.resources import DATA, find_suite

from ..helpers import SHARED

SUITE = find_suite("local-bilingual")


def test_the_suite_is_found_by_name_and_its_data_ships_with_the_package():
    assert SUITE.is_relative_to(Path(__import__("jasper_tc").__file__).parent)
    with pytest.raises(FileNotFoundError, match=r"no shipped suite of that name \(shipped: local-bilingual\)"):
        find_suite("local-bilingul")
    suite, root = load_suite(SUITE)
    assert root == (DATA / "eval").resolve()
    assert {t.type for t in suite.tasks} == {
        "sts",
        "pair_classification",
        "retrieval",
        "classification",
        "clustering",
        "bitext",
    }
    assert {t.lang for t in suite.tasks} >= {"en", "zh"}


def test_the_shipped_copies_give_the_tasks_what_the_full_sets_give():
    """Same paths as the full sets (``data_root=`` switches), and cut to exactly what each task reads."""
    suite, shipped = load_suite(SUITE)
    _, full = load_suite(SUITE, [f"data_root={SHARED / 'data'}"])
    for task in suite.tasks:
        if task.name in ("Wiki-title2article-en", "LongWiki-en", "LongWiki-zh", "PythonDocs-en"):  # built, not copied
            continue
        small, large = load_task(task, shipped), load_task(task, full)
        if task.name.startswith("STSB"):  # the shipped STS-B test leaves out the MSR corpora's pairs
            whole = load_task(dataclasses.replace(task, limit=None), full)
            for role, texts in small.texts.items():
                assert len(texts) == 879 and set(texts) < set(whole.texts[role]), task.name
            continue
        assert small.texts == large.texts, task.name
        for role, labels in small.labels.items():
            assert labels.tolist() == large.labels[role].tolist(), task.name
        assert small.relevant == large.relevant, task.name


def test_unknown_keys_and_missing_fields_are_reported(tmp_path):
    path = tmp_path / "suite.yaml"
    path.write_text(
        yaml.safe_dump({"tasks": [{"name": "x", "type": "retrieval", "queris": "q"}, {"name": "y", "type": "ranking"}]})
    )
    with pytest.raises(ConfigError) as error:
        load_suite(path)
    assert "tasks[0].queris: unknown key" in str(error.value)
    assert "tasks[1].type: 'ranking' is not one of" in str(error.value)


def test_qrels_naming_an_unknown_document_names_file_and_line(tmp_path):
    base = SHARED / "data/retrieval/xquad_en_zh"
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text(
        (base / "qrels/test.tsv").read_text().splitlines()[0]
        + "\n"
        + "56beb4343aeaaa14008c925b\txquad-a00-p00\t1\n56beb4343aeaaa14008c925c\tnope\t1\n"
    )
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        yaml.safe_dump(
            {
                "data_root": str(base),
                "tasks": [
                    {
                        "name": "r",
                        "type": "retrieval",
                        "queries": "queries-en.jsonl.gz",
                        "corpus": "corpus-en.jsonl.gz",
                        "qrels": str(qrels),
                    }
                ],
            }
        )
    )
    config, root = load_suite(suite)
    with pytest.raises(TaskError, match=r"task r: .*qrels.tsv: line 3: corpus-id 'nope' is not in corpus-en"):
        load_task(config.tasks[0], root)


@pytest.mark.slow
def test_eval_command_sweeps_ratios_and_isolates_failures(tmp_path, minilm_path):
    from jasper_tc.cli import app

    suite = yaml.safe_load(SUITE.read_text())
    suite["data_root"] = str(SUITE.parent / suite["data_root"])
    for task in suite["tasks"]:
        task["limit"] = 60
        if task["type"] == "retrieval":
            task["corpus_limit"] = 60
        if task["type"] == "classification":
            task["train_limit"] = 400
    suite["tasks"].append({"name": "Broken", "type": "sts", "path": "sts/missing.tsv"})
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    output = tmp_path / "run"
    command = ["eval", "--model", minilm_path, "--suite", str(path), "--ratios", "1,0.2", "--output", str(output)]
    command += ["--no-prompts", "--device", "cpu", "--no-latency"]
    result = CliRunner().invoke(app, command)
    # a failed task is recorded and the others go on; the command then fails, naming the task and its cause
    assert result.exit_code == 1, result.output
    assert "error: 1 task(s) failed:\n  Broken (ratio 1, 0.2): task Broken: " in result.output
    assert "sts/missing.tsv: no such file" in result.output
    summary = json.loads((output / "summary.json").read_text())
    records = {(r["task_name"], r["compression_ratio"]): r for r in summary["results"]}
    assert len(records) == 2 * len(suite["tasks"])  # the shipped tasks and the broken one, at both ratios
    assert "no such file" in records[("Broken", 1.0)]["error"]
    for name in ("STSB-en", "XQuAD-en", "Banking77", "Banking77-clustering", "STSB-bitext-en-zh", "PAWSX-zh"):
        assert 0 < records[(name, 1.0)]["main_score"] <= 1, name
    assert records[("STSB-en", 1.0)]["main_score"] > 0.7  # all-MiniLM-L6-v2 on STS-B
    # short texts are embedded once for all ratios; long XQuAD paragraphs change with the ratio
    assert records[("STSB-en", 0.2)]["main_score"] == records[("STSB-en", 1.0)]["main_score"]
    assert records[("XQuAD-en", 0.2)]["main_score"] != records[("XQuAD-en", 1.0)]["main_score"]
    assert (output / "quality_vs_ratio.png").stat().st_size > 10_000
    assert "| STSB-en | sts | en | cosine_spearman |" in (output / "table.md").read_text()
    assert (output / "results" / "XQuAD-en__r0.2.json").is_file()
    # --allow-errors: the same failure is reported and the command succeeds (two tasks are enough to show it)
    suite["tasks"] = [t for t in suite["tasks"] if t["name"] in ("STSB-en", "Broken")]
    path.write_text(yaml.safe_dump(suite))
    allowed = CliRunner().invoke(app, [*command, "--allow-errors", "--output", str(tmp_path / "again")])
    assert allowed.exit_code == 0 and "Broken (ratio 1, 0.2)" in allowed.output
    assert len(json.loads((tmp_path / "again" / "summary.json").read_text())["results"]) == 2 * 2

    compare = CliRunner().invoke(app, ["eval-compare", str(output), str(output), "--output", str(tmp_path / "cmp")])
    assert compare.exit_code == 0, compare.output
    assert (tmp_path / "cmp" / "comparison.png").is_file()
    bad = CliRunner().invoke(app, ["eval-compare", str(tmp_path)])
    assert bad.exit_code == 2 and "no summary.json" in bad.output


def test_an_empty_task_file_is_a_clear_error(tmp_path):
    (tmp_path / "empty.tsv").write_text("sentence1\tsentence2\tscore\n")
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        yaml.safe_dump({"data_root": str(tmp_path), "tasks": [{"name": "e", "type": "sts", "path": "empty.tsv"}]})
    )
    config, root = load_suite(suite)
    with pytest.raises(TaskError, match=r"task e: .*empty.tsv: no rows"):
        load_task(config.tasks[0], root)


def test_eval_scores_multi_vector_documents_by_their_best_stretch(tmp_path, minilm_path):
    """--multi-vector: each document a vector per stretch of text (late chunking), a query scoring its best."""
    import numpy as np

    from jasper_tc.cli import app
    from jasper_tc.encode import load
    from jasper_tc.evaluation import metrics

    suite = yaml.safe_load(SUITE.read_text())
    suite["data_root"] = str(SUITE.parent / suite["data_root"])
    suite["tasks"] = [t | {"limit": 6, "corpus_limit": 6} for t in suite["tasks"]]
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    unknown = CliRunner().invoke(app, ["eval", "--model", minilm_path, "--suite", str(path), "--tasks", "PyDocs"])
    assert unknown.exit_code == 2 and "no task 'PyDocs' in the suite (it has: STSB-en" in unknown.output
    reading = ["--long-inputs", "segments", "--max-length", "2048", "--segment-length", "512", "--token-budget", "256"]
    command = ["eval", "--model", minilm_path, "--suite", str(path), "--tasks", "PythonDocs-en", "--ratios", "1"]
    command += ["--no-prompts"]
    command += ["--device", "cpu", "--no-latency", *reading]
    multi = [*command, "--late-chunking", "--late-chunk-length", "64", "--multi-vector"]
    result = CliRunner().invoke(app, [*multi, "--output", str(tmp_path / "multi")])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "multi" / "summary.json").read_text())
    assert summary["options"]["multi_vector"] is True and summary["options"]["late_chunk_length"] == 64
    single = CliRunner().invoke(app, [*command, "--output", str(tmp_path / "single")])
    assert single.exit_code == 0, single.output
    assert "multi_vector" not in json.loads((tmp_path / "single" / "summary.json").read_text())["options"]

    config, root = load_suite(path)
    task = load_task(select_tasks(config, ["PythonDocs-en"], prompts=False).tasks[0], root)
    encoder = load(minilm_path, device="cpu")
    settings = {"long_inputs": "segments", "max_length": 2048, "segment_length": 512, "token_budget": 256}
    rows = encoder.encode(task.texts["documents"], **settings, late_chunking=True, late_chunk_length=64,
                          return_segments=True, show_progress_bar=False)  # fmt: skip
    assert all(len(r) > 8 for r in rows)  # every page is past 512 tokens: many stretches each
    queries = encoder.encode(task.texts["queries"], show_progress_bar=False)
    expected = metrics.retrieval(queries, rows, task.relevant)["ndcg_at_10"]
    assert summary["results"][0]["main_score"] == pytest.approx(expected, abs=1e-6)
    assert expected != json.loads((tmp_path / "single" / "summary.json").read_text())["results"][0]["main_score"]
    assert isinstance(rows[0], np.ndarray)
