"""A sweep's grid: a run template plus axes, expanded into run configs (a sweep is a template
plus `dataclasses.replace`, as elk's, never shell strings)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np
import tyro

from labelbudget.config import SUBCONFIGS, RunConfig
from labelbudget.labels.budget import MIN_STAGE, Allocation, allocation_of
from labelbudget.runs.identity import display_method, run_key, weak_stage_key
from labelbudget.util.checks import check_types
from labelbudget.util.errors import UserError, short


@dataclass(frozen=True)
class Grid:
    """The axes of a sweep; every combination is one run of the template, unless it buys the
    same allocation (n_weak, n_hq) as another (then it is that run: see `budget.run_key`)."""

    tasks: tuple[str, ...] | None = None
    """Tasks to sweep; None: the template's (`--task`, or a sweep file's `template.task.task`)."""
    methods: tuple[str, ...] = ("seq_sft",)
    budgets: tuple[float, ...] = (16, 64, 256, 1024, 4096)
    weak_costs: tuple[float, ...] = (0.1,)
    """Weak-label prices at which (budget, HQ fraction) become allocations. Every allocation is
    re-costed at every price in the analysis (its accuracy does not depend on the price), so one
    price suffices, as the authors ran it (all at $0.10); more prices add more allocations."""
    hq_fractions: tuple[float, ...] = (0.0, 0.05, 0.2, 0.4, 0.6, 0.8, 1.0)
    seeds: tuple[int, ...] = (0, 1, 2)
    """The paper's 3 seeds."""
    small_stage_seeds: tuple[int, ...] = ()
    """Seeds for allocations whose smaller non-empty stage has at most `SMALL_STAGE` examples,
    where results are noisier (the paper: 7 seeds). Empty: `seeds` everywhere."""
    hq_only_budgets: tuple[float, ...] = ()
    """Budgets run only with hq_fraction 1 (the paper adds $8192 HQ-only)."""
    weak_sources: tuple[str, ...] = ()
    """Weak-label sources to compare (`--weak-labels` specs: `trained`, `column:NAME`,
    `file:PATH`, `prompt:MODEL`, ...), one variant each; empty: the template's alone."""
    method_fractions: Annotated[dict[str, tuple[float, ...]], tyro.conf.Suppress] = field(
        default_factory=dict
    )
    """Per-method HQ fractions overriding `hq_fractions` (e.g. a cheaper method subset)."""
    simplex: tuple[str, ...] = ()
    """With a template of several sources (`--source`): the points of the simplex each budget is
    split at, `NAME=SHARE,NAME=SHARE,...` each; empty: its vertices, edge midpoints, centre and
    the points between the centre and each vertex (`simplex_points`), less those that buy a
    source 1 or 2 labels at a budget (too few to train a stage on)."""

    def __post_init__(self) -> None:
        check_types(self)
        for axis in ("tasks", "methods", "budgets", "weak_costs", "hq_fractions", "seeds"):
            if getattr(self, axis) is not None and not getattr(self, axis):
                raise UserError(
                    f"the sweep's {axis} is empty: the grid has no runs",
                    f"give {axis} at least one value (--{axis.replace('_', '-')} ...)",
                )
        _values("budgets", self.budgets + self.hq_only_budgets, lambda b: b > 0, "positive $ amounts")
        _values("weak_costs", self.weak_costs, lambda c: 0 < c <= 1, "prices in (0, 1]")
        fractions = self.hq_fractions + tuple(f for fs in self.method_fractions.values() for f in fs)
        _values("hq_fractions", fractions, lambda f: 0 <= f <= 1, "fractions in [0, 1]")
        _values("seeds", self.seeds + self.small_stage_seeds, lambda s: s >= 0, "non-negative integers")

    def seeds_for(self, alloc: Allocation) -> tuple[int, ...]:
        smaller = min((n for n in alloc.values if n > 0), default=0)
        return self.small_stage_seeds if self.small_stage_seeds and smaller <= SMALL_STAGE else self.seeds


def simplex_points(names: tuple[str, ...]) -> list[dict[str, float]]:
    """A design over the simplex of k sources: its vertices (one source), edge midpoints (two
    sources, half each), the centre, and the points between the centre and each vertex (k = 3:
    10 points; k = 2: the ends, the middle and the quarter points)."""
    k = len(names)
    eye = np.eye(k)
    points = list(eye) + [(eye[i] + eye[j]) / 2 for i in range(k) for j in range(i + 1, k)]
    centre = np.full(k, 1 / k)
    points += [centre] + [(centre + eye[i]) / 2 for i in range(k)]
    seen = {tuple(np.round(p, 10)): p for p in points}
    return [dict(zip(names, map(float, p), strict=True)) for p in seen.values()]


def parse_point(text: str) -> dict[str, float]:
    """`NAME=SHARE,NAME=SHARE,...`, a point of `--simplex`."""
    from labelbudget.allocation import parse_shares

    return parse_shares([t for t in text.replace(" ", ",").split(",") if t])


def _values(axis: str, values: tuple, ok: Callable[[Any], bool], expected: str) -> None:
    bad = [v for v in values if not ok(v)]
    if bad:
        raise UserError(f"{axis} must be {expected}, got {bad}", f"fix {axis} in the sweep file or flags")


SMALL_STAGE = 10
"""PROTOCOL, "What the authors' code did": 7 seeds where the smaller stage has <= 10 examples."""


def merge(template: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    """A config from the template with nested fields overridden (JSON/YAML shaped)."""
    nested = SUBCONFIGS
    kwargs = {}
    if not isinstance(overrides, dict):
        raise UserError(
            f"template must be a mapping, got {short(overrides)}", "write `template:` with RunConfig fields"
        )
    for key, value in overrides.items():
        if key in nested:
            known = {f.name for f in dataclasses.fields(nested[key])}
            if not isinstance(value, dict) or set(value) - known:
                raise UserError(
                    f"template.{key} must be a mapping of its fields, got {short(value)}",
                    f"use fields of {nested[key].__name__}: {', '.join(sorted(known))}",
                )
            kwargs[key] = dataclasses.replace(getattr(template, key), **value)
        elif key in {f.name for f in dataclasses.fields(RunConfig)}:
            kwargs[key] = value
        else:
            raise UserError(
                f"unknown template field {short(key)}",
                f"use fields of RunConfig: {', '.join(f.name for f in dataclasses.fields(RunConfig))}",
            )
    return dataclasses.replace(template, **kwargs)


def _points(grid: Grid, method: str) -> Iterator[tuple[float, float, float]]:
    """(budget, weak cost, HQ fraction) of one method, in the grid's order."""
    fractions = grid.method_fractions.get(method, grid.hq_fractions)
    for budget in grid.budgets:
        for cost in grid.weak_costs:
            for f in fractions:
                yield float(budget), float(cost), float(f)
    for budget in grid.hq_only_budgets:
        yield float(budget), float(grid.weak_costs[0]), 1.0


def _axes(grid: Grid) -> dict[str, tuple[str, tuple]]:
    """Run-config field -> (the axis that sets it, the values the grid gives it; empty: the
    template's value is used)."""
    fractions = grid.hq_fractions + tuple(f for fs in grid.method_fractions.values() for f in fs)
    return {
        "task": ("tasks", grid.tasks or ()),
        "weak_labels": ("weak_sources", grid.weak_sources),
        "method": ("methods", grid.methods),
        "budget": ("budgets", grid.budgets + grid.hq_only_budgets),
        "weak_cost": ("weak_costs", grid.weak_costs),
        "hq_fraction": ("hq_fractions", fractions),
        "seed": ("seeds", grid.seeds + grid.small_stage_seeds),
    }


def refuse_overridden(template: RunConfig, grid: Grid, source: str) -> None:
    """A template value that the grid would silently drop is refused (a user's value is used or
    refused): one that an axis replaces without holding it (a task beside a tasks axis naming
    others, a budget the budgets leave out). A value the axis holds is used, so a template copied
    from a record of the same grid passes. `source` says where the template came from ("the
    flags", "sweep file PATH")."""
    default = RunConfig()
    for name, (axis, values) in _axes(grid).items():
        value, base = (
            (template.task.task, default.task.task)
            if name == "task"
            else (getattr(template, name), getattr(default, name))
        )
        if value != base and values and value not in values:
            raise UserError(
                f"the run template's {name} is {short(value, 60)} ({source}), but every run of the "
                f"sweep takes its {name} from the grid's {axis} {short(list(values), 60)}: it would "
                "be ignored",
                f"give it in the axis ({axis}: [{short(value, 40)}], --{axis.replace('_', '-')}), or "
                f"drop {name} from the template",
            )


def expand(template: RunConfig, grid: Grid) -> list[RunConfig]:
    """Every run of the grid, one per run identity (`runs.identity.run_key`: the first config in
    grid order that buys an allocation stands for all that buy it), ordered so that runs sharing
    a weak stage (`runs.identity.weak_stage_key`) are adjacent. Without a tasks axis the
    template's task is swept. A template of several sources splits each budget at the points of
    the simplex (`Grid.simplex`)."""
    if template.sources:
        return _expand_simplex(template, grid)
    configs: dict[str, RunConfig] = {}
    sources = grid.weak_sources or (template.weak_labels,)
    tasks = grid.tasks if grid.tasks is not None else (template.task.task,)
    for task, source in ((t, s) for t in tasks for s in sources):
        base = dataclasses.replace(template, task=dataclasses.replace(template.task, task=task))
        base = dataclasses.replace(base, weak_labels=source)
        for method in grid.methods:
            for budget, cost, f in _points(grid, method):
                cfg = dataclasses.replace(base, method=method, budget=budget, weak_cost=cost, hq_fraction=f)
                for seed in grid.seeds_for(allocation_of(cfg)):
                    seeded = dataclasses.replace(cfg, seed=seed)
                    configs.setdefault(run_key(seeded), seeded)
    keys = {id(c): weak_stage_key(c) for c in configs.values()}
    return sorted(
        configs.values(), key=lambda c: (c.task.task, c.seed, keys[id(c)], c.method, c.budget, c.hq_fraction)
    )


PAIR_AXES = ("weak_costs", "hq_fractions", "hq_only_budgets", "weak_sources", "method_fractions")


def _expand_simplex(template: RunConfig, grid: Grid) -> list[RunConfig]:
    """`expand` for a template of several sources: budgets x points of the simplex x seeds."""
    from labelbudget.allocation import sources_of

    default = Grid()
    given = [a for a in PAIR_AXES if getattr(grid, a) != getattr(default, a)]
    if given:
        flags = ", ".join("--" + a.replace("_", "-") for a in given)
        raise UserError(
            f"{flags} split a budget between the paper's two sources, but the template has several "
            "(--source)",
            "omit them: each budget is split at the points of --simplex (default: vertices, edge "
            "midpoints, centre)",
        )
    names = tuple(s.name for s in sources_of(template))
    points = [parse_point(p) for p in grid.simplex] or simplex_points(names)
    configs: dict[str, RunConfig] = {}
    for task in grid.tasks if grid.tasks is not None else (template.task.task,):
        base = dataclasses.replace(template, task=dataclasses.replace(template.task, task=task))
        for method in grid.methods:
            for budget in grid.budgets:
                for point in points:
                    shares = tuple(f"{n}={point.get(n, 0.0):.12g}" for n in names)
                    cfg = dataclasses.replace(base, method=method, budget=float(budget), shares=shares)
                    alloc = allocation_of(cfg)
                    if not grid.simplex and any(0 < n < MIN_STAGE for n in alloc.values):
                        continue  # the default design's point buys too few of a source to train on
                    for seed in grid.seeds_for(alloc):
                        seeded = dataclasses.replace(cfg, seed=seed)
                        configs.setdefault(run_key(seeded), seeded)
    return sorted(configs.values(), key=lambda c: (c.task.task, c.seed, c.method, c.budget, c.shares))


def describe(cfg: RunConfig) -> str:
    """A run in a sweep's log, its method named as records and tables name it (`probe_logconf`)."""
    alloc, method = allocation_of(cfg), display_method(cfg)
    if cfg.sources:
        bought = " + ".join(f"{n} {name}" for name, n in alloc.counts)
        return f"{method} {cfg.task.task} ${cfg.budget:g} {' '.join(cfg.shares)} ({bought}) seed {cfg.seed}"
    return (
        f"{method} {cfg.task.task} ${cfg.budget:g} c={cfg.weak_cost:g} f={cfg.hq_fraction:g} "
        f"({alloc.n_weak} weak + {alloc.n_hq} HQ) seed {cfg.seed}"
    )
