"""``mixed_precision: auto``: bf16 autocast only where a probe measures it faster; the stage records what
it trained in, and the card and summaries say so."""

from __future__ import annotations

import json

import pytest

from jasper_tc.configs import parse_config
from jasper_tc.recipes import stage_summary
from jasper_tc.training import TrainConfig, check_train_config, train
from jasper_tc.training import precision as mixed


@pytest.fixture
def probe_times(monkeypatch):
    """Make the probe's fp32 and bf16 steps take the given seconds (the CPU need not have bf16 units)."""

    def set_times(fp32: float, bf16: float) -> None:
        mixed._cpu_probe.cache_clear()
        monkeypatch.setattr(mixed, "_step_seconds", lambda layer, batch, bf16_on, repeats=3: bf16 if bf16_on else fp32)
        monkeypatch.setattr(mixed.torch.cuda, "is_available", lambda: False)

    yield set_times
    mixed._cpu_probe.cache_clear()


def test_auto_picks_bf16_only_when_it_measures_faster(probe_times):
    probe_times(fp32=1.0, bf16=0.6)
    faster = mixed.resolve_mixed_precision("auto")
    assert faster.setting == "bf16" and "1.67x" in faster.reason
    probe_times(fp32=1.0, bf16=0.95)  # 1.05x: not worth bf16's rounding
    assert mixed.resolve_mixed_precision("auto").setting == "no"
    probe_times(fp32=1.0, bf16=4.0)  # a CPU without bf16 units
    slower = mixed.resolve_mixed_precision("auto")
    assert slower.setting == "no" and "0.25x" in slower.reason


def test_a_set_precision_is_kept_without_a_probe(probe_times):
    probe_times(fp32=1.0, bf16=0.5)
    assert mixed.resolve_mixed_precision("no").setting == "no"
    assert mixed.resolve_mixed_precision("bf16").reason == "as configured"


def test_the_probe_runs_for_real_on_this_cpu():
    mixed._cpu_probe.cache_clear()
    choice = mixed.resolve_mixed_precision("auto")
    assert choice.setting in ("no", "bf16") and "x fp32's speed" in choice.reason


def test_a_stage_in_auto_trains_in_what_the_probe_picked_and_records_it(tiny_world, tmp_path, probe_times, capsys):
    probe_times(fp32=1.0, bf16=0.5)
    settings = tiny_world.config(tmp_path / "run", mixed_precision="auto")
    result = train(check_train_config(parse_config(TrainConfig, settings), "test"))
    output = result.model.parent
    assert json.loads((output / mixed.PRECISION_RECORD).read_text())["mixed_precision"] == "bf16"
    assert stage_summary(output).mixed_precision == "bf16"  # what it ran in, not "auto"
    said = capsys.readouterr()
    assert "mixed_precision auto: bf16 (a training step of a probe layer ran 2.00x" in said.out + said.err
    # the config it resumes against still says auto: a run on another machine may probe differently
    assert "mixed_precision: auto" in (output / "config.yaml").read_text()


def test_a_bare_yaml_no_is_named_with_the_fix(tiny_world, tmp_path):
    from jasper_tc.configs import ConfigError

    with pytest.raises(ConfigError, match="mixed_precision: False is not one of .* quote it"):
        parse_config(TrainConfig, tiny_world.config(tmp_path / "run", mixed_precision=False), "test")
