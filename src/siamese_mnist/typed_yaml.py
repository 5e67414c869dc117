"""YAML into frozen dataclasses, strictly: what a params file (or search.yaml) may hold, checked against the
dataclasses' type hints. Unknown keys fail with a did-you-mean, wrong types with the key's dotted path.

Hand-written rather than a schema library (pydantic, dacite): those accept ``"1"`` for an int or fill
defaults silently, and DVC tracks the file's values, so a filled-in default would be invisible to it.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from typing import Any, Literal, get_args, get_origin

import yaml

from .errors import ParamsError

MAX_INT = 2**63 - 1  # what torch and numpy index with; a larger integer param is a typo


def _coerce(value: Any, hint: Any, path: str) -> Any:
    """Check ``value`` against a type hint, converting lists to tuples; raise ParamsError on mismatch."""
    origin = get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = get_args(hint)
        if value is None and type(None) in options:
            return None
        inner = [o for o in options if o is not type(None)]
        if len(inner) == 1:
            return _coerce(value, inner[0], path)
        for option in inner:  # int | float: an integer stays an integer; bool | "auto": either
            try:
                return _coerce(value, option, path)
            except ParamsError:
                pass
        raise ParamsError(f"{path}: {value!r} should be {' or '.join(_describe(o) for o in inner)}")
    if origin is Literal:
        allowed = get_args(hint)
        if value not in allowed:
            raise ParamsError(f"{path}: {value!r} is not one of {', '.join(map(str, allowed))}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ParamsError(f"{path}: {value!r} should be a list")
        args = get_args(hint)
        item = args[0]
        return tuple(_coerce(v, item, f"{path}[{i}]") for i, v in enumerate(value))
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ParamsError(f"{path}: {value!r} should be a number")
        if isinstance(value, int) and abs(value) > MAX_INT or not math.isfinite(value):  # 10**400: no float
            raise ParamsError(f"{path}: {_short(value)} is not a finite number")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(f"{path}: {value!r} should be an integer")
        if abs(value) > MAX_INT:
            raise ParamsError(f"{path}: {_short(value)} is out of range; allowed up to {MAX_INT}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ParamsError(f"{path}: {value!r} should be true or false")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ParamsError(f"{path}: {value!r} should be a string")
        return value
    raise TypeError(f"unsupported type hint {hint!r} at {path}")  # a bug in this module, not in params


def _short(value: Any) -> str:
    """A value for a one-line message: a 400-digit integer by its size."""
    text = repr(value)
    return text if len(text) <= 30 else f"a {len(text)}-digit number"


def _describe(hint: Any) -> str:
    if get_origin(hint) is Literal:
        return " or ".join(map(str, get_args(hint)))
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(hint, str(hint))


def build(cls: type, raw: Any, path: str = "", complete: bool = False) -> Any:
    """An instance of dataclass ``cls`` from a mapping; ``complete``: every field must be present."""
    if not isinstance(raw, dict):
        raise ParamsError(f"{path or 'params'}: should be a mapping of keys, got {raw!r}")
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]
    for key in raw:  # an unknown key first: a misspelt one is also a missing one, and its name is the clue
        if key not in known:
            full = f"{path}.{key}" if path else str(key)
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean {path + '.' if path else ''}{close[0]}?" if close else \
                f"; known keys: {', '.join(known)}"
            raise ParamsError(f"{full}: unknown key{hint}")
    missing = [k for k in known if k not in raw and not _optional_section(hints[k])]
    if complete and missing:
        # DVC reads a stage's params from the file, so a default filled in here would be invisible to it.
        full = f"{path}.{missing[0]}" if path else missing[0]
        default = getattr(cls(), missing[0])
        shown = to_dict(default) if dataclasses.is_dataclass(default) else _plain(default)
        raise ParamsError(f"{full}: missing; every param must be in the params file (the default is {shown!r})")
    kwargs = {}
    for key, value in raw.items():
        full = f"{path}.{key}" if path else str(key)
        hint_t = hints[key]
        if _optional_section(hint_t) and value is not None:
            hint_t = _optional_section(hint_t)
        if dataclasses.is_dataclass(hint_t):
            kwargs[key] = build(hint_t, value, full, complete)
        else:
            kwargs[key] = _coerce(value, hint_t, full)
    return cls(**kwargs)


def _optional_section(hint: Any) -> Any:
    """The dataclass of a ``Section | None`` hint (a section only some params files have), else None."""
    if get_origin(hint) in (typing.Union, types.UnionType):
        inner = [o for o in get_args(hint) if o is not type(None)]
        if len(inner) == 1 and dataclasses.is_dataclass(inner[0]):
            return inner[0]
    return None


def read_yaml(text: str) -> Any:
    """Parse YAML text exactly as DVC reads params.yaml: ruamel.yaml's safe loader, YAML 1.2 (``010`` is 10, ``on``
    and ``1:30`` are strings, ``1e-06`` a number) and a key twice in one mapping an error. PyYAML's YAML 1.1 read
    ``seed: 010`` as 8 while dvc.lock recorded 10, which poisoned DVC's run cache. A syntax error is a
    ``yaml.YAMLError`` whose message is one line, with the line number."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return YAML(typ="safe").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        problem = " ".join(str(exc.problem or exc).split())
        raise yaml.YAMLError(problem + ("" if mark is None else f" (line {mark.line + 1})")) from None
    except YAMLError as exc:
        raise yaml.YAMLError(" ".join(str(exc).split())) from None


def to_dict(obj: Any) -> Any:
    """A dataclass config as plain lists/dicts (for checkpoints and metrics files)."""
    return _plain(dataclasses.asdict(obj))


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    return x
