"""Frozen dataclass configs that reject unknown keys, and YAML files with `include:`."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from bench.errors import UserError, did_you_mean

C = TypeVar("C")


def from_mapping(cls: type[C], values: Mapping[str, Any] | None, where: str) -> C:
    """Build a frozen dataclass, rejecting keys it does not declare (never silently ignored)."""
    if values is not None and not isinstance(values, Mapping):
        raise UserError(f"{where}: expected a mapping of key: value settings, got {type(values).__name__} {values!r}")
    values = dict(values or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key, value in values.items():
        if key not in fields:
            raise UserError(f"{where}: unknown key {key!r}{did_you_mean(key, fields)}")
        _check_type(where, key, fields[key].type, value)
    try:
        obj = cls(**values)
    except UserError as exc:  # a __post_init__ check: say which config it is about
        raise UserError(f"{where}: {exc}") from None
    except TypeError as exc:
        raise UserError(f"{where}: {exc}") from None
    return obj


# Field annotations (strings, under `from __future__ import annotations`) checked by from_mapping.
_SIMPLE_TYPES = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,), "dict": (dict,), "list": (list,)}
_TYPE_WORDS = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string", "dict": "a mapping", "list": "a list"}


def _check_type(where: str, key: str, annotation: Any, value: Any) -> None:
    """Reject a value of the wrong simple type (`epochs: "3"`, `lr: 1e-3` read as text by YAML)."""
    name = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    parts = [p.strip() for p in name.split("|")]
    wanted = [p for p in parts if p != "None"]
    if not wanted or any(p not in _SIMPLE_TYPES for p in wanted):
        return  # a type we do not check here
    if value is None and "None" in parts:
        return
    if isinstance(value, bool) and "bool" not in wanted:
        ok = False
    else:
        ok = any(isinstance(value, _SIMPLE_TYPES[p]) for p in wanted)
    if ok:
        return
    expected = " or ".join(_TYPE_WORDS[p] for p in wanted) + (" or null" if "None" in parts else "")
    hint = ""
    if isinstance(value, str) and any(p in ("int", "float") for p in wanted):
        try:
            float(value)
            hint = f" (YAML reads {value} as text: write it with a dot and a signed exponent, e.g. 1.0e-3)" if "e" in value.lower() else " (remove the quotes)"
        except ValueError:
            pass
    raise UserError(f"{where}: {key} must be {expected}, got {value!r}{hint}")


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def content_hash(obj: Any, length: int = 12) -> str:
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:length]


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def load_yaml(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a YAML mapping; `include:` (a path or a list, relative to the file) is merged underneath."""
    import yaml

    path = Path(path)
    if path.resolve() in _seen:
        raise UserError(f"{path}: include cycle through {' -> '.join(map(str, _seen))}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not valid UTF-8 (byte {exc.object[exc.start]:#x} at offset {exc.start})") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        context = f" ({exc.context})" if exc.context else ""
        raise UserError(f"{path}{where}: not valid YAML: {exc.problem or 'syntax error'}{context}") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    includes = data.pop("include", [])
    includes = [includes] if isinstance(includes, str) else [] if includes is None else includes
    if not isinstance(includes, list) or not all(isinstance(inc, str) for inc in includes):
        raise UserError(f"{path}: include must be a file name or a list of file names, got {includes!r}")
    merged: dict[str, Any] = {}
    for inc in includes:
        merged = deep_merge(merged, load_yaml(path.parent / inc, _seen + (path.resolve(),)))
    return deep_merge(merged, data)
