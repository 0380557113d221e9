"""Sweep files: a run template and grid axes in YAML or JSON."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labelbudget.config import RunConfig
from labelbudget.sweeps.grid import Grid, merge
from labelbudget.util.errors import UserError, short


@dataclass(frozen=True)
class SweepFile:
    template: RunConfig
    grid: Grid


MAX_BYTES = 1_000_000
"""A sweep file names axes, not runs: a megabyte is far more than any needs."""


def read_sweep(path: Path) -> SweepFile:
    """A sweep from YAML or JSON: `template` (RunConfig fields, nested as in a record's config)
    plus the Grid's axes at the top level. A key given twice is refused (YAML and JSON parsers
    would silently keep the last), and so is a value of the wrong type."""
    if not path.is_file():
        raise UserError(f"sweep file {path} does not exist", "pass a .yaml or .json sweep file")
    if path.stat().st_size > MAX_BYTES:
        raise UserError(
            f"sweep file {path} is {path.stat().st_size:,} bytes; sweep files are at most {MAX_BYTES:,}",
            "list the grid's axes, not its runs (labelbudget expands them)",
        )
    try:
        text = path.read_text()
        data = _load_yaml(text) if path.suffix.lower() in (".yaml", ".yml") else _load_json(text)
    except UserError as e:
        raise UserError(f"sweep file {path}: {e.problem}", e.fix) from e
    except RecursionError as e:
        raise UserError(f"sweep file {path} is nested too deeply to read", "flatten it") from e
    except Exception as e:
        raise UserError(
            f"could not parse sweep file {path}: {' '.join(str(e).split())[:200]}",
            "check its YAML/JSON syntax",
        ) from e
    if not isinstance(data, dict):
        raise UserError(f"sweep file {path} must hold a mapping", "write `template:` and grid axes")
    template = merge(RunConfig(), data.pop("template", {}) or {})
    axes = {f.name for f in dataclasses.fields(Grid)}
    unknown = set(data) - axes
    if unknown:
        raise UserError(
            f"sweep file {path} has unknown keys {sorted(unknown)}",
            f"use template and the grid axes: {', '.join(sorted(axes))}",
        )
    grid = Grid(**{k: _axis(k, v) for k, v in data.items()})
    return SweepFile(template, grid)


def _axis(name: str, value: Any) -> Any:
    """A grid axis from YAML/JSON: a list (a scalar is refused, not read letter by letter)."""
    if name == "method_fractions":
        if not isinstance(value, dict) or not all(isinstance(v, list) for v in value.values()):
            raise UserError(
                f"method_fractions must map methods to lists of fractions, got {short(value)}",
                "write e.g. method_fractions: {icl: [0, 1]}",
            )
        return {m: tuple(fs) for m, fs in value.items()}
    if not isinstance(value, list):
        raise UserError(
            f"{name} must be a list, got {short(value)}", f"write e.g. {name}: [{short(value, 30)}]"
        )
    return tuple(value)


def _no_duplicates(pairs: list[tuple[Any, Any]]) -> dict:
    keys = [k for k, _ in pairs]
    if dupes := sorted({str(k) for k in keys if keys.count(k) > 1}):
        raise UserError(f"the key {dupes[0]!r} is given twice", "keep one of them")
    return dict(pairs)


def _load_json(text: str) -> Any:
    return json.loads(text, object_pairs_hook=_no_duplicates)


def _load_yaml(text: str) -> Any:
    import yaml

    class Loader(yaml.SafeLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.events.AliasEvent):  # *name: a few bytes can expand to gigabytes
                mark = self.peek_event().start_mark
                raise UserError(
                    f"YAML aliases (*name) are not allowed in sweep files (line {mark.line + 1})",
                    "write the value out in full where the alias stands",
                )
            return super().compose_node(parent, index)

        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise UserError(
                        f"the key {key!r} is given twice (line {key_node.start_mark.line + 1})",
                        "keep one of them",
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return yaml.load(text, Loader=Loader)  # noqa: S506 (a SafeLoader subclass)
