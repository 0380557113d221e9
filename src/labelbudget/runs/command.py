"""A run's config as the command line that runs it: what `plan` prints under "to run it"."""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path

from labelbudget.allocation import bought_by
from labelbudget.config import SUBCONFIGS, RunConfig, run_config_from_json


def run_command(config_json: str, counts, results: Path) -> str:
    """The complete `labelbudget run` command line of a stored variant's config buying `counts`:
    every flag that differs from its default, quoted for a shell (a command that runs as printed)."""
    config = bought_by(run_config_from_json(config_json), counts)
    default = RunConfig()
    words = ["labelbudget", "run"]
    fields = [
        (f.name, getattr(config, f.name), getattr(default, f.name))
        for f in dataclasses.fields(config)
        if f.name not in SUBCONFIGS
    ]
    for part in SUBCONFIGS:
        fields += [
            (f.name, getattr(getattr(config, part), f.name), getattr(getattr(default, part), f.name))
            for f in dataclasses.fields(getattr(config, part))
        ]
    for name, value, was in fields:
        if value == was:
            continue
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            words.append(
                flag if value else ("--no-header" if name == "header" else f"--no-{name.replace('_', '-')}")
            )
        elif isinstance(value, dict):
            words += [flag, *(str(x) for kv in value.items() for x in kv)]
        elif name == "sources":  # appended one at a time, as a user types them
            words += [w for source in value for w in ("--source", source)]
        elif isinstance(value, tuple):
            words += [flag, *map(str, value)]
        else:
            words += [flag, short_float(value) if isinstance(value, float) else str(value)]
    words += ["--results", str(results)]
    return " ".join(shlex.quote(w) for w in words)


def short_float(value: float) -> str:
    """The shortest spelling that reads back as exactly `value` (12 digits where that suffices:
    a share such as 0.984615384615 would floor 8,192 labels to 8,191)."""
    short = f"{value:.12g}"
    return short if float(short) == value else repr(value)
