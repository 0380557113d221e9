"""Sweep files: a run template and grid axes in YAML or JSON; and a sweep's configs from a file,
a preset or the command line's flags, whichever one names the grid."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labelbudget.config import RunConfig
from labelbudget.sweeps.grid import Grid, expand, merge, refuse_overridden
from labelbudget.util.errors import UserError, short


@dataclass(frozen=True)
class SweepFile:
    template: RunConfig
    grid: Grid


def sweep_configs(file: Path | None, preset: str | None, template: RunConfig, grid: Grid) -> list[RunConfig]:
    """The configs of a sweep named by a file, a preset or flags (`template` and `grid`): one of
    them. A flag beside a file or a preset would be dropped, so it is refused, and so is a
    template value the grid would drop (`grid.refuse_overridden`)."""
    from labelbudget.sweeps.presets import PRESETS

    if file is not None and preset is not None:
        raise UserError(f"both a sweep file ({file}) and --preset {preset} name the grid", "pass one of them")
    flags = given_flags(template, RunConfig()) + given_flags(grid, Grid())
    if flags and (file is not None or preset is not None):
        source = f"the sweep file {file}" if file is not None else f"--preset {preset}"
        raise UserError(
            f"{', '.join(flags)} would be ignored: {source} sets the whole grid and its run template",
            "write them into a sweep file (template: and the grid's axes), or sweep from flags alone",
        )
    if file is not None:
        sweep = read_sweep(file)
        return expand(sweep.template, sweep.grid)
    if preset is not None:
        return PRESETS[preset]()
    refuse_overridden(template, grid, "the flags")
    return expand(template, grid)


def given_flags(config: Any, default: Any) -> list[str]:
    """The flags whose value differs from `default` (a nested config's fields are flags of their
    own, as the command line flattens them)."""
    given = []
    for f in dataclasses.fields(config):
        value, base = getattr(config, f.name), getattr(default, f.name)
        if dataclasses.is_dataclass(value):
            given += given_flags(value, base)
        elif value != base:
            given.append("--" + f.name.replace("_", "-"))
    return given


ONLY_WITH = {
    "max_runs": "--adaptive",
    "batch": "--adaptive",
    "ray_address": "--executor ray",
    "cpus_per_run": "--executor ray",
    "gpus_per_run": "--executor ray",
}
"""Sweep options read only with another: the adaptive sweep's, and a cluster's (the local
executor runs in this process; other executors may read them)."""


def refuse_unread(options: dict[str, Any], defaults: dict[str, Any]) -> None:
    """A `sweep` option this sweep would not read is refused (a flag is used or refused), and so
    is a dry run of an adaptive sweep (which picks its runs as results come in)."""
    off = {"--adaptive": not options["adaptive"], "--executor ray": options["executor"] == "local"}
    for name, needs in ONLY_WITH.items():
        if options[name] != defaults[name] and off[needs]:
            flag = "--" + name.replace("_", "-")
            raise UserError(f"{flag} applies only with {needs}", f"add {needs}, or omit {flag}")
    if options["dry_run"] and options["adaptive"]:
        raise UserError(
            "--dry-run lists the whole grid; an adaptive sweep picks its runs as results come in",
            "drop --adaptive to list the grid, or --dry-run to run the adaptive sweep",
        )


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
    refuse_overridden(template, grid, f"sweep file {path}")
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


FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)[eE][-+]?[0-9]+$")
"""A number in exponent notation without a dot (`1e3`, `5E-2`): YAML 1.1, which PyYAML reads,
makes it a string; YAML 1.2 and JSON read it as the number people mean."""


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

    Loader.add_implicit_resolver("tag:yaml.org,2002:float", FLOAT, list("-+0123456789."))
    return yaml.load(text, Loader=Loader)  # noqa: S506 (a SafeLoader subclass)
