"""The training loop on a tiny random Qwen3: the four stages chained, resume, config errors, shipped configs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

from jasper_tc.configs import ConfigError, parse_config
from jasper_tc.training import TrainConfig, check_train_config, load_train_config, train
from jasper_tc.training.checkpoints import list_checkpoints

ROOT = Path(__file__).resolve().parents[2]


def run(world_config: dict, **kwargs):
    config = check_train_config(parse_config(TrainConfig, world_config), "test")
    return train(config, **kwargs)


def weights(folder) -> dict[str, torch.Tensor]:
    return load_file(Path(folder) / "model.safetensors")


def logged(output) -> list[dict]:
    return [json.loads(line) for line in (Path(output) / "log.jsonl").read_text().splitlines()]


def test_four_stages_chain_and_each_output_loads(tiny_world, tmp_path):
    from sentence_transformers import SentenceTransformer

    import jasper_tc

    stage1 = run(tiny_world.config(tmp_path / "s1", tensorboard=True))
    stage2 = run(
        tiny_world.config(
            tmp_path / "s2",
            start={"backbone": None, "checkpoint": str(stage1.model), "insert_jasper_mlp": True},
            compression={"schedule": "fixed", "ratio": 0.33},
        )
    )
    stage3 = run(
        tiny_world.config(
            tmp_path / "s3",
            start={"backbone": None, "checkpoint": str(stage2.model)},
            loss={"cosine": 10, "similarity": 100},
            compression={"schedule": "algorithm2"},
            accumulation=2,
            gradient_cache=True,
            gradient_checkpointing=True,
        )
    )
    stage4 = run(
        tiny_world.config(
            tmp_path / "s4",
            start={"backbone": None, "checkpoint": str(stage3.model)},
            data={"corpus": None, "triples": tiny_world.triples, "teacher_store": tiny_world.triple_store},
            loss={"info_nce": 1, "soft_distillation": 16, "cosine": 10},
            compression={"schedule": "algorithm2"},
        )
    )
    texts = ["a short query", "a longer document " * 30]
    for result, terms in (
        (stage1, {"cosine"}),
        (stage2, {"cosine"}),
        (stage3, {"cosine", "similarity"}),
        (stage4, {"info_nce", "soft_distillation", "cosine"}),
    ):
        assert result.step == result.total_steps == 4 and not result.stopped
        records = logged(result.model.parent)
        assert [r["step"] for r in records] == [1, 2, 3, 4]
        assert set(records[0]["terms"]) == terms and all(np.isfinite(r["loss"]) for r in records)
        encoder = jasper_tc.load(result.model)
        ratio = 0.3 if result is not stage1 else 1.0
        ours = encoder.encode(texts, compression_ratio=ratio)
        theirs = SentenceTransformer(str(result.model)).encode(texts, compression_ratio=ratio)
        np.testing.assert_allclose(ours, theirs, atol=1e-5)
    assert stage4.model.parent.joinpath("config.yaml").is_file()
    assert list((tmp_path / "s1" / "tensorboard").glob("events.out.tfevents.*"))
    assert [r["ratio"] for r in logged(tmp_path / "s2")] == [0.33] * 4
    assert len({r["ratio"] for r in logged(tmp_path / "s3")}) > 1  # drawn per step
    assert jasper_tc.load(stage1.model).backend.model.jasper_mlp is None
    assert jasper_tc.load(stage2.model).backend.model.config.compression_ratio == pytest.approx(0.33333)


def test_distillation_lowers_the_loss(tiny_world, tmp_path):
    result = run(tiny_world.config(tmp_path / "run", steps=24, optimizer={"lr": 3e-3}, disable_dropout=True))
    losses = [r["loss"] for r in logged(result.model.parent)]
    assert np.mean(losses[-4:]) < 0.7 * np.mean(losses[:4])


def resumable(tiny_world, output: Path) -> dict:
    """Stage-3-like: compressor, drawn ratios, Gram loss with gradient cache, dropout on, checkpoint every 2."""
    return tiny_world.config(
        output,
        start={"insert_jasper_mlp": True},
        loss={"cosine": 10, "similarity": 100},
        compression={"schedule": "algorithm2"},
        accumulation=2,
        gradient_cache=True,
        steps=6,
        checkpoint={"every": 2, "keep_last": 2},
    )


@pytest.fixture(scope="module")
def uninterrupted(tiny_world, tmp_path_factory):
    result = run(resumable(tiny_world, tmp_path_factory.mktemp("whole") / "run"))
    return weights(result.model), logged(result.model.parent)


def test_resume_after_a_crash_ends_with_the_same_weights(tiny_world, tmp_path, uninterrupted):
    config = resumable(tiny_world, tmp_path / "run")

    def crash(step: int):
        if step == 3:
            raise RuntimeError("simulated crash")

    with pytest.raises(RuntimeError, match="simulated crash"):
        run(config, on_step=crash)
    assert [step for step, _ in list_checkpoints(tmp_path / "run")] == [2]
    assert not (tmp_path / "run" / "model").exists()
    result = run(config, resume=True)
    assert result.step == 6
    expected, expected_log = uninterrupted
    got = weights(result.model)
    assert got.keys() == expected.keys()
    for name in expected:
        assert torch.equal(got[name], expected[name]), name
    log = logged(tmp_path / "run")
    assert [r["step"] for r in log] == [1, 2, 3, 4, 5, 6]  # the crashed step 3 logged once
    assert [r["loss"] for r in log] == [r["loss"] for r in expected_log]
    assert [step for step, _ in list_checkpoints(tmp_path / "run")] == [4, 6]  # keep_last 2


def test_a_requested_stop_saves_and_resumes_exactly(tiny_world, tmp_path, uninterrupted):
    config = resumable(tiny_world, tmp_path / "run")
    stopped = run(config, on_step=lambda step: step == 3)
    assert stopped.stopped and stopped.step == 3 and stopped.model is None
    assert [step for step, _ in list_checkpoints(tmp_path / "run")][-1] == 3
    result = run(config, resume=True)
    expected, _ = uninterrupted
    assert all(torch.equal(weights(result.model)[name], expected[name]) for name in expected)


def test_a_second_run_into_the_same_output_needs_resume(tiny_world, tmp_path):
    config = tiny_world.config(tmp_path / "run", steps=1)
    run(config)
    with pytest.raises(ConfigError, match="--resume"):
        run(config)


def test_resume_refuses_a_changed_config_naming_the_key(tiny_world, tmp_path):
    run(tiny_world.config(tmp_path / "run", steps=2, checkpoint={"every": 1}), on_step=lambda step: step == 1)
    with pytest.raises(ConfigError, match=r"optimizer\.lr: 0\.001 in the checkpoint, 0\.002 now"):
        run(tiny_world.config(tmp_path / "run", steps=2, optimizer={"lr": 2e-3}), resume=True)


def test_config_problems_are_reported_together_before_any_compute(tiny_world, tmp_path):
    config = tiny_world.config(tmp_path / "run", batch_size="four", loss={"cosine": 10, "cosnie": 1})
    config["data"]["teacher_store"] = str(tmp_path / "missing")
    with pytest.raises(ConfigError) as error:
        run(config)
    text = str(error.value)
    assert "batch_size: expected int" in text and "loss.cosnie: unknown key" in text

    config = tiny_world.config(tmp_path / "run", data={"teacher_store": str(tmp_path / "missing")}, steps=None)
    with pytest.raises(ConfigError) as error:
        run(config)
    assert "is not a finished store" in str(error.value) and "exactly one of epochs and steps" in str(error.value)

    config = tiny_world.config(tmp_path / "run", start={"embedding_dim": 48}, loss={"info_nce": 1})
    with pytest.raises(ConfigError) as error:
        run(config)
    assert "32-d but start.embedding_dim embeds into 48" in str(error.value)
    assert "loss.info_nce: needs queries and documents" in str(error.value)
    assert not (tmp_path / "run").exists()


def test_nan_infinity_and_zero_eps_are_refused_by_name(tiny_world, tmp_path):
    config = tiny_world.config(tmp_path / "run", optimizer={"eps": 0.0, "max_grad_norm": float("nan")})
    config["loss"]["temperature"] = float("inf")
    with pytest.raises(ConfigError) as error:
        run(config)
    text = str(error.value)
    assert "optimizer.eps: must be above 0" in text
    assert "optimizer.max_grad_norm: must be a finite number, got nan" in text
    assert "loss.temperature: must be a finite number, got inf" in text


def test_resume_refuses_another_process_count_and_survives_a_torn_log_line(tiny_world, tmp_path):
    config = tiny_world.config(tmp_path / "run", steps=3, checkpoint={"every": 1})
    run(config, on_step=lambda step: step == 2)
    with (tmp_path / "run" / "log.jsonl").open("a") as log:
        log.write('{"step": 3, "lo')  # killed mid-write
    state = tmp_path / "run" / "checkpoints" / "step-00000002" / "state.json"
    saved = json.loads(state.read_text())
    state.write_text(json.dumps({**saved, "processes": 2}))
    with pytest.raises(ConfigError, match="processes: 2 in the checkpoint, 1 now"):
        run(config, resume=True)
    state.write_text(json.dumps(saved))
    assert run(config, resume=True).step == 3
    assert [r["step"] for r in logged(tmp_path / "run")] == [1, 2, 3]


def test_a_one_row_gram_matrix_is_refused(tiny_world, tmp_path):
    with pytest.raises(ConfigError, match="a Gram matrix over 1 row"):
        run(tiny_world.config(tmp_path / "run", batch_size=1, loss={"cosine": 1, "similarity": 1}))


def test_model_level_problems_are_reported_before_reading_data(tiny_world, tmp_path):
    # only linear_1 trains: nothing that trains can learn the pool (a training backbone could)
    config = tiny_world.config(
        tmp_path / "run", compression={"schedule": "fixed", "ratio": 0.5}, data={"max_length": 100000},
        trainable=["linear_1.*"],
    )  # fmt: skip
    with pytest.raises(ConfigError) as error:
        run(config)
    assert "nothing that trains can learn it" in str(error.value)
    assert "exceeds the backbone's 4096 positions" in str(error.value)


def test_too_little_data_for_one_global_batch_is_an_error(tiny_world, tmp_path):
    with pytest.raises(ValueError, match=r"64 rows, fewer than one global batch of 80"):
        run(tiny_world.config(tmp_path / "run", batch_size=40, accumulation=2))


SHIPPED_600M = sorted((ROOT / "configs" / "jasper-600m").glob("stage*.yaml"))
SHIPPED_CPU = sorted((ROOT / "configs" / "minilm-cpu").glob("stage*.yaml"))
SHIPPED_TEACH = sorted((ROOT / "configs" / "teachers").glob("*.yaml")) + sorted(
    (ROOT / "configs" / "minilm-cpu").glob("teach*.yaml")
)


def fused_dimensions() -> dict[str, int]:
    """Every fused store a shipped teach config makes (its folder, as a stage names it) -> its dimension."""
    from jasper_tc.teachers import TeachConfig, parse_projection

    found = {}
    for path in SHIPPED_TEACH:
        teach = parse_config(TeachConfig, yaml.safe_load(path.read_text()), str(path))
        dims = {teacher.name: teacher.dimension for teacher in teach.teachers}
        fused = sum(parse_projection(spec).output_dim(dims[name]) for name, spec in teach.fusion.projections.items())
        found[f"{teach.output}/{teach.fusion.name}"] = fused
    return found


def student_dimension(stage: dict) -> int:
    """What a shipped stage's student embeds into: its backbone's embedding_dim, or that of the shipped
    stage whose output it starts from."""
    if "checkpoint" not in stage["start"]:
        return stage["start"]["embedding_dim"]
    stages = {f"{s['output']}/model": s for s in (yaml.safe_load(p.read_text()) for p in SHIPPED_600M + SHIPPED_CPU)}
    assert stage["start"]["checkpoint"] in stages, "start.checkpoint names no shipped stage's output model"
    return student_dimension(stages[stage["start"]["checkpoint"]])


def stand_ins(path: Path, folder: Path) -> list[str]:
    """Overrides pointing a shipped stage's paths (teacher store, corpus or triples, checkpoint) at tiny
    stand-ins in ``folder``: an empty store whose manifest has the dimension its shipped teach config
    gives, one-line data files, and a checkpoint whose config.json has the dimension its stage gives."""
    from jasper_tc import JasperTCConfig
    from jasper_tc.store import Manifest

    from ..helpers import tiny_qwen3_config

    stage = yaml.safe_load(path.read_text())
    stores = fused_dimensions()
    assert stage["data"]["teacher_store"] in stores, "data.teacher_store: no shipped teach config makes it"
    store = folder / "store"
    store.mkdir()
    Manifest("fused", {}, stores[stage["data"]["teacher_store"]], "float16", "", rows=0, shard_rows=8192).save(store)
    overrides = [f"data.teacher_store={store}"]
    if "corpus" in stage["data"]:
        (folder / "corpus.jsonl").write_text(json.dumps({"id": "0", "text": "a paragraph"}) + "\n")
        overrides.append(f"data.corpus.path={folder / 'corpus.jsonl'}")
    if "triples" in stage["data"]:
        triple = {"query": "q", "positive": "p", "negatives": ["n1", "n2", "n3"]}
        (folder / "triples.jsonl").write_text(json.dumps(triple) + "\n")
        overrides.append(f"data.triples={folder / 'triples.jsonl'}")
    if "checkpoint" in stage["start"]:
        checkpoint = JasperTCConfig(text_config=tiny_qwen3_config(), embedding_dim=student_dimension(stage))
        checkpoint.save_pretrained(folder / "checkpoint")
        overrides.append(f"start.checkpoint={folder / 'checkpoint'}")
    return overrides


@pytest.mark.parametrize("path", SHIPPED_600M + SHIPPED_CPU, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_configs_pass_the_full_check(path, tmp_path):
    """Every check runs on every shipped stage file, with only the paths it names swapped for stand-ins."""
    config = load_train_config(path, stand_ins(path, tmp_path))
    assert config.loss and (config.epochs or config.steps)


@pytest.mark.parametrize(
    ("stage", "mistake", "message"),
    [
        ("jasper-600m/stage1.yaml", "start.embedding_dim=1024", "its vectors are 2048-d but start.embedding_dim"),
        ("minilm-cpu/stage2.yaml", "compression.ratio=1.5", "compression.ratio"),
        ("jasper-600m/stage4.yaml", "loss.temperature=0", "loss.temperature: must be above 0"),
    ],
)
def test_the_shipped_config_check_still_catches_mistakes(stage, mistake, message, tmp_path):
    path = ROOT / "configs" / stage
    with pytest.raises(ConfigError, match=message):
        load_train_config(path, [*stand_ins(path, tmp_path), mistake])


def test_the_report_stage_configs_run_on_a_tiny_qwen3(tiny_world, tmp_path):
    """The 600M recipe, stage by stage, with only sizes and paths swapped for the tiny world."""
    assert len(SHIPPED_600M) == 4
    previous = None
    for path in SHIPPED_600M:
        config = yaml.safe_load(path.read_text())
        config["output"] = str(tmp_path / path.stem)
        start = config["start"]
        if "backbone" in start:
            start.update(backbone=tiny_world.backbone, embedding_dim=32)
        else:
            start["checkpoint"] = str(previous)
        if "triples" in config["data"]:
            config["data"].update(triples=tiny_world.triples, teacher_store=tiny_world.triple_store)
        else:
            config["data"]["corpus"] = {"path": tiny_world.corpus, "id_field": "id"}
            config["data"]["teacher_store"] = tiny_world.store
        config["data"]["max_length"] = 96
        config.pop("epochs", None)
        config.update(steps=2, batch_size=2, accumulation=min(config.get("accumulation", 1), 2), tensorboard=False)
        result = run(config)
        assert result.step == 2
        previous = result.model
    import jasper_tc

    final = jasper_tc.load(previous)
    assert final.dimension == 32 and final.backend.model.jasper_mlp is not None


def test_trainable_patterns_freeze_the_rest_and_lr_by_pattern_speeds_the_new_mlp(tiny_world, tmp_path):
    start = tmp_path / "start"
    first = run(tiny_world.config(start, steps=1))
    config = tiny_world.config(
        tmp_path / "run",
        start={"backbone": None, "checkpoint": str(first.model), "insert_jasper_mlp": True, "mlp_init": "residual"},
        trainable=["jasper_mlp.*", "linear_1.*"],
        optimizer={"lr": 1e-4, "lr_by_pattern": {"jasper_mlp.*": 1e-2}},
        loss={"cosine": 10, "mse": 1},
        compression={"schedule": "fixed", "ratio": 0.5},
        steps=3,
    )
    result = run(config)
    before, after = weights(first.model), weights(result.model)
    assert all(torch.equal(after[k], before[k]) for k in before if k.startswith("model."))  # the backbone froze
    assert not torch.equal(after["linear_1.weight"], before["linear_1.weight"])
    assert after["jasper_mlp.down_proj.weight"].abs().max() > 1e-3  # it started at zero
    assert set(logged(result.model.parent)[0]["terms"]) == {"cosine", "mse"}

    from jasper_tc.training.loop import _optimizer
    from jasper_tc.training.start import build_start

    checked = check_train_config(parse_config(TrainConfig, config), "test")
    model, _ = build_start(checked)
    groups: dict[float, int] = {}
    for group in _optimizer(model, checked).param_groups:
        groups[group["lr"]] = groups.get(group["lr"], 0) + sum(p.numel() for p in group["params"])
    assert set(groups) == {1e-4, 1e-2}
    assert groups[1e-2] == sum(p.numel() for p in model.jasper_mlp.parameters())
    assert groups[1e-4] == sum(p.numel() for p in model.linear_1.parameters())


def test_patterns_that_name_no_parameter_are_errors(tiny_world, tmp_path):
    config = tiny_world.config(
        tmp_path / "run",
        trainable=["jasper_mpl.*"],
        optimizer={"lr_by_pattern": {"model.encoder.layer.1.*": 1e-3, "linear_1.*": -1.0}},
    )
    with pytest.raises(ConfigError) as error:
        run(config)
    text = str(error.value)
    assert "optimizer.lr_by_pattern.linear_1.*: must be above 0, got -1.0" in text
    config["optimizer"]["lr_by_pattern"] = {"model.encoder.layer.1.*": 1e-3}
    with pytest.raises(ConfigError) as error:
        run(config)
    text = str(error.value)
    assert "trainable: 'jasper_mpl.*' matches no parameter (names start with linear_1, model)" in text
    assert "optimizer.lr_by_pattern: 'model.encoder.layer.1.*' matches no trainable parameter" in text


def test_fit_positions_compresses_each_long_input_into_the_window(tiny_world, tmp_path):
    """Inputs longer than compression.fit_positions are compressed further, each to fit: what a model sees
    when long_inputs="fit" reads it, so it can be trained on inputs longer than its window."""
    from jasper_tc.training.objective import StepRatio

    mask = torch.zeros(3, 300, dtype=torch.long)
    for row, n in enumerate((300, 100, 40)):
        mask[row, :n] = 1
    ratios = StepRatio(0.5, positions=64, threshold=16).for_inputs(mask)
    from jasper_tc.model import compressed_length

    assert [compressed_length(n, float(r), 16) for n, r in zip((300, 100, 40), ratios)] == [64, 58, 28]
    assert StepRatio(0.5).for_inputs(mask) == 0.5

    config = tiny_world.config(
        tmp_path / "run", start={"insert_jasper_mlp": True}, compression={"schedule": "fixed", "ratio": 0.5,
        "fit_positions": 32}, steps=2,
    )  # fmt: skip
    assert run(config).step == 2
    config["compression"]["fit_positions"] = 16
    with pytest.raises(ConfigError, match="compression.fit_positions: must exceed the model's threshold of 16, got 16"):
        run({**config, "output": str(tmp_path / "other")})
