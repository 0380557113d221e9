"""Type and range checks for config dataclasses: values from YAML/JSON sweep files and Python
callers bypass the CLI's parsing, so every field is checked against its annotation."""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from typing import Any, Literal

from labelbudget.util.errors import UserError, short


def _check(ok: bool, name: str, problem: str, fix: str) -> None:
    if not ok:
        raise UserError(f"{name}: {problem}", fix)


def check_types(obj: Any) -> None:
    """Every field of a config dataclass holds a value of its annotated type (YAML/JSON sweep
    files and Python callers bypass the CLI's parsing): ints are not bools or 0.5, floats are
    finite numbers, strings are strings, a `Literal` is one of its choices. A list where a tuple is
    annotated (JSON and YAML have no tuples) is made the tuple."""
    hints = _hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, list) and typing.get_origin(hints[f.name]) is tuple:
            value = tuple(value)
            object.__setattr__(obj, f.name, value)
        expected = _describe(hints[f.name])
        if not _conforms(value, hints[f.name]):
            raise UserError(
                f"{f.name}: must be {expected}, got "
                + short(list(value) if isinstance(value, tuple) else value),
                f"give {f.name} (--{f.name.replace('_', '-')}) {expected}",
            )


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """The resolved annotations of a class, once per process (resolving them took 0.4 ms per
    config: most of a sweep's bookkeeping over thousands of stored runs)."""
    return typing.get_type_hints(cls)


def _conforms(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return value in args
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:  # what numpy's seeds and SQLite's INTEGER hold
        return isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str)
    if origin is tuple:
        return isinstance(value, tuple) and all(_conforms(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(
            _conforms(k, args[0]) and _conforms(v, args[1]) for k, v in value.items()
        )
    if dataclasses.is_dataclass(hint):
        return isinstance(value, hint)
    return True


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is tuple:
        plural = {int: "integers", float: "finite numbers", str: "strings"}.get(args[0], _describe(args[0]))
        return f"a list of {plural}"
    if origin is dict:
        return f"a mapping of {_describe(args[0])} to {_describe(args[1])}"
    return {
        bool: "true or false",
        int: "an integer below 2**63",
        float: "a finite number",
        str: "a string",
    }.get(hint, "None" if hint is type(None) else getattr(hint, "__name__", str(hint)))
