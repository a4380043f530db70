"""key=value overrides: nested keys, list indices, and errors naming the override; renamed keys."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from jasper_tc.configs import ConfigError, apply_overrides, load_config


def test_overrides_reach_nested_keys_and_list_items():
    data = {"a": {"b": 1}, "teachers": [{"name": "x", "max_length": 256}]}
    apply_overrides(data, ["a.b=2", "a.c.d=[1, 2]", "teachers.0.max_length=128"])
    assert data == {"a": {"b": 2, "c": {"d": [1, 2]}}, "teachers": [{"name": "x", "max_length": 128}]}
    apply_overrides(data, ["teachers.0={name: y}"])
    assert data["teachers"] == [{"name": "y"}]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("teachers.1.max_length=1", "'1' is not an index of a list of 1"),
        ("teachers.x.max_length=1", "'x' is not an index of a list of 1"),
        ("a.b.c=1", "a.b.c: b is not a mapping"),
        ("no-equals-sign", "is not of the form key=value"),
    ],
)
def test_bad_overrides_name_themselves(override, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides({"a": {"b": 1}, "teachers": [{}]}, [override])


@dataclass(frozen=True)
class _Start:
    insert_jasper_mlp: bool = False
    default_compression_ratio: float = 0.5


@dataclass(frozen=True)
class _Stage:
    start: _Start


def test_renamed_keys_are_read_under_their_new_name_with_a_warning(tmp_path):
    path = tmp_path / "stage.yaml"
    path.write_text("start: {insert_compressor: true}\n")
    renamed = {
        "start.insert_compressor": "start.insert_jasper_mlp",
        "start.compression_ratio": "start.default_compression_ratio",
    }
    with pytest.warns(FutureWarning, match=r"start.insert_compressor is renamed start.insert_jasper_mlp"):
        stage = load_config(_Stage, path, ["start.compression_ratio=0.2"], renamed)
    assert stage.start == _Start(insert_jasper_mlp=True, default_compression_ratio=0.2)
    with pytest.raises(ConfigError, match=r"start.insert_compressor: renamed start.insert_jasper_mlp, and both"):
        load_config(_Stage, path, ["start.insert_jasper_mlp=false"], renamed)
    with pytest.raises(ConfigError, match=r"start.insert_compressor: unknown key"):  # without the rename table
        load_config(_Stage, path)
