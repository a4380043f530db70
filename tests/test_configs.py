"""key=value overrides: nested keys, list indices, and errors naming the override."""

from __future__ import annotations

import pytest

from jasper_tc.configs import ConfigError, apply_overrides


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
