"""YAML -> frozen typed dataclasses, strictly: unknown keys, wrong types and missing values are all
reported together, each naming its key, before any compute. ``key.sub=value`` overrides apply first;
code changes a loaded config with typed values at the same dotted keys (:func:`with_changes`).

Imports nothing else from the package.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import yaml

__all__ = ["ConfigError", "apply_overrides", "load_config", "parse_config", "with_changes"]

T = TypeVar("T")


class ConfigError(ValueError):
    """One or more problems in a config; ``problems`` lists them all."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{source}: {len(problems)} problem(s):\n" + "\n".join(f"  - {p}" for p in problems))


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b=value`` overrides (values parsed as YAML) to a nested dict, in place; ``teachers.0.x``
    indexes a list."""
    for override in overrides:
        if "=" not in override:
            raise ConfigError("overrides", [f"{override!r} is not of the form key=value"])
        dotted, raw = override.split("=", 1)
        _set(data, dotted.strip(), yaml.safe_load(raw))
    return data


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``value`` at a dotted key of a nested dict, in place (``teachers.0.x`` indexes a list)."""
    node = data
    keys = dotted.split(".")
    for key in keys[:-1]:
        node = _child(node, key, dotted)
    if isinstance(node, list):
        _child(node, keys[-1], dotted)  # checks the index
        node[int(keys[-1])] = value
    else:
        node[keys[-1]] = value


def _child(node: Any, key: str, dotted: str) -> Any:
    """``node[key]`` for a mapping (created when missing) or a list (``key`` an index in range)."""
    if isinstance(node, list):
        if not key.isdigit() or int(key) >= len(node):
            raise ConfigError("overrides", [f"{dotted}: {key!r} is not an index of a list of {len(node)}"])
        return node[int(key)]
    node = node.setdefault(key, {})
    if not isinstance(node, (dict, list)):
        raise ConfigError("overrides", [f"{dotted}: {key} is not a mapping"])
    return node


def load_config(cls: type[T], path: str | os.PathLike, overrides: list[str] | None = None) -> T:
    """Read ``path`` (YAML), apply ``overrides``, and build ``cls``; relative paths stay as written."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(str(path), ["no such config file"])
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), [f"the top level must be a mapping, got {type(data).__name__}"])
    data = apply_overrides(data, overrides or [])
    return parse_config(cls, data, str(path))


def with_changes(config: T, changes: typing.Mapping[str, Any], source: str = "config") -> T:
    """``config`` with typed values at dotted keys (``{"data.max_length": 256, "teachers.0.model": path}``),
    built and checked again the way :func:`parse_config` builds a file (paths become strings)."""
    data = dataclasses.asdict(config)
    for dotted, value in changes.items():
        _set(data, dotted, os.fspath(value) if isinstance(value, os.PathLike) else value)
    return parse_config(type(config), data, source)


def parse_config(cls: type[T], data: dict[str, Any], source: str = "config") -> T:
    problems: list[str] = []
    value = _build(cls, data, "", problems)
    if problems:
        raise ConfigError(source, problems)
    return value


def _build(cls: type, data: Any, where: str, problems: list[str]) -> Any:
    if not isinstance(data, dict):
        problems.append(f"{where or 'config'}: expected a mapping, got {type(data).__name__}")
        return None
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            problems.append(f"{where}{key}: unknown key (valid: {', '.join(sorted(fields))})")
    values = {}
    for name, field in fields.items():
        key = f"{where}{name}"
        if name in data:
            values[name] = _convert(hints[name], data[name], key, problems)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            problems.append(f"{key}: required")
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:
        if not problems:
            problems.append(f"{where or 'config'}: {error}")
        return None


def _convert(hint: Any, value: Any, key: str, problems: list[str]) -> Any:
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return _convert(options[0], value, key, problems)
        for option in options:  # first option that accepts the value without complaint
            trial: list[str] = []
            converted = _convert(option, value, key, trial)
            if not trial:
                return converted
        problems.append(f"{key}: {value!r} matches none of {hint}")
        return None
    if origin is Literal:
        if value not in args:
            tip = " (YAML reads a bare no/yes/off/on as a boolean: quote it)" if isinstance(value, bool) else ""
            problems.append(f"{key}: {value!r} is not one of {', '.join(repr(a) for a in args)}{tip}")
        return value
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, f"{key}.", problems)
    if origin in (list, tuple):
        if not isinstance(value, list):
            problems.append(f"{key}: expected a list, got {type(value).__name__}")
            return None
        items = [_convert(args[0] if args else Any, item, f"{key}[{i}]", problems) for i, item in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            problems.append(f"{key}: expected a mapping, got {type(value).__name__}")
            return None
        return {k: _convert(args[1] if args else Any, v, f"{key}.{k}", problems) for k, v in value.items()}
    if hint is Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is Path and isinstance(value, str):
        return Path(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        problems.append(f"{key}: expected {hint.__name__}, got {type(value).__name__} {value!r}")
        return None
    return value
