"""Sweeps: a run template plus a grid, expanded into run configs, run resumably.

    labelbudget sweep --preset demo
    labelbudget sweep grid.yaml            # {"template": {...RunConfig fields...}, "budgets": [...], ...}

Rerunning a sweep runs only what the store lacks: each record is one SQLite transaction keyed by
its config hash, so killing a sweep (even with SIGKILL) loses at most the run in flight and never
duplicates a row. Runs that share a weak stage train it once and branch from its saved state.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import tyro

from labelbudget.budget import allocate
from labelbudget.config import (
    MethodOptions,
    RunConfig,
    TaskConfig,
    TrainConfig,
    WeakConfig,
    config_hash,
)
from labelbudget.errors import UserError

PAPER_TASKS = ("hellaswag", "social_i_qa", "cosmos_qa")
"""Table 1 and Figure 5 average these three (PROTOCOL, "The paper's numbers")."""


@dataclass(frozen=True)
class Grid:
    """The axes of a sweep; every combination is one run of the template."""

    tasks: tuple[str, ...] = ("tweet-sentiment",)
    methods: tuple[str, ...] = ("seq_sft",)
    budgets: tuple[float, ...] = (16, 64, 256, 1024, 4096)
    weak_costs: tuple[float, ...] = (0.5, 0.1, 0.01)
    hq_fractions: tuple[float, ...] = (0.0, 0.05, 0.2, 0.4, 0.6, 0.8, 1.0)
    seeds: tuple[int, ...] = (0,)
    hq_only_budgets: tuple[float, ...] = ()
    """Budgets run only with hq_fraction 1 (the paper adds $8192 HQ-only)."""
    method_fractions: Annotated[dict[str, tuple[float, ...]], tyro.conf.Suppress] = field(
        default_factory=dict
    )
    """Per-method HQ fractions overriding `hq_fractions` (e.g. a cheaper method subset)."""


def _merge(template: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    """A config from the template with nested fields overridden (JSON/YAML shaped)."""
    nested = {"task": TaskConfig, "weak": WeakConfig, "train": TrainConfig, "options": MethodOptions}
    kwargs = {}
    for key, value in overrides.items():
        if key in nested:
            kwargs[key] = dataclasses.replace(getattr(template, key), **value)
        elif key in {f.name for f in dataclasses.fields(RunConfig)}:
            kwargs[key] = value
        else:
            raise UserError(
                f"unknown template field {key!r}",
                f"use fields of RunConfig: {', '.join(f.name for f in dataclasses.fields(RunConfig))}",
            )
    return dataclasses.replace(template, **kwargs)


def expand(template: RunConfig, grid: Grid) -> list[RunConfig]:
    """Every run of the grid, without duplicates, ordered so that runs sharing a weak stage
    (same task, seed, weak labels and n_weak) are adjacent.

    An all-HQ run does not depend on the weak-label cost, so it is run once (at the grid's first
    cost) and the analysis counts it for every cost.
    """
    configs: dict[str, RunConfig] = {}

    def add(cfg: RunConfig) -> None:
        if cfg.hq_fraction == 1.0:
            cfg = dataclasses.replace(cfg, weak_cost=grid.weak_costs[0])
        configs.setdefault(config_hash(cfg), cfg)

    for task in grid.tasks:
        for seed in grid.seeds:
            base = dataclasses.replace(
                template, task=dataclasses.replace(template.task, task=task), seed=seed
            )
            for method in grid.methods:
                fractions = grid.method_fractions.get(method, grid.hq_fractions)
                for budget in grid.budgets:
                    for cost in grid.weak_costs:
                        for f in fractions:
                            add(
                                dataclasses.replace(
                                    base,
                                    method=method,
                                    budget=float(budget),
                                    weak_cost=float(cost),
                                    hq_fraction=float(f),
                                )
                            )
                for budget in grid.hq_only_budgets:
                    add(
                        dataclasses.replace(
                            base,
                            method=method,
                            budget=float(budget),
                            weak_cost=float(grid.weak_costs[0]),
                            hq_fraction=1.0,
                        )
                    )

    return sorted(configs.values(), key=lambda c: (share_group(c), c.method, c.budget, c.hq_fraction))


PAPER_GRID = Grid(
    tasks=PAPER_TASKS,
    methods=("seq_sft", "prompted_seq_sft", "logconf", "uncertainty", "icl"),
    budgets=(16, 64, 256, 1024, 4096),
    weak_costs=(0.5, 0.1, 0.01),
    hq_fractions=(0.0, 0.05, 0.2, 0.4, 0.6, 0.8, 1.0),
    seeds=(0,),
    hq_only_budgets=(8192,),
)
"""PROTOCOL's grid: budgets 16..4096 plus 8192 HQ-only; HQ fractions 0.8/0.6/0.4/0.2/0.05 and the
pure ends; weak costs 0.50/0.10/0.01; the paper's methods; its three Table-1 tasks."""


def _demo() -> list[RunConfig]:
    from labelbudget.demo import demo_configs

    return demo_configs()


PRESETS: dict[str, Callable[[], list[RunConfig]]] = {
    "paper": lambda: expand(RunConfig(), PAPER_GRID),
    "demo": _demo,
}


@dataclass(frozen=True)
class SweepFile:
    template: RunConfig
    grid: Grid


def read_sweep(path: Path) -> SweepFile:
    """A sweep from YAML or JSON: `template` (RunConfig fields, nested as in a record's config)
    plus the Grid's axes at the top level."""
    if not path.is_file():
        raise UserError(f"sweep file {path} does not exist", "pass a .yaml or .json sweep file")
    text = path.read_text()
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as e:
        raise UserError(
            f"could not parse sweep file {path}: {str(e).splitlines()[0]}", "check its YAML/JSON syntax"
        ) from e
    if not isinstance(data, dict):
        raise UserError(f"sweep file {path} must hold a mapping", "write `template:` and grid axes")
    template = _merge(RunConfig(), data.pop("template", {}) or {})
    axes = {f.name for f in dataclasses.fields(Grid)}
    unknown = set(data) - axes
    if unknown:
        raise UserError(
            f"sweep file {path} has unknown keys {sorted(unknown)}",
            f"use template and the grid axes: {', '.join(sorted(axes))}",
        )
    grid = Grid(
        **{
            k: (
                tuple(v)
                if isinstance(v, list)
                else {m: tuple(fs) for m, fs in v.items()}
                if isinstance(v, dict)
                else v
            )
            for k, v in data.items()
        }
    )
    return SweepFile(template, grid)


@dataclass
class SweepReport:
    total: int
    already: int
    ran: int
    seconds: float


def pending(configs: list[RunConfig], results: Path) -> Iterator[RunConfig]:
    from labelbudget.store import Store

    done = Store(results).hashes()
    return (c for c in configs if config_hash(c) not in done)


def describe(cfg: RunConfig) -> str:
    return (
        f"{cfg.method} {cfg.task.task} ${cfg.budget:g} c={cfg.weak_cost:g} f={cfg.hq_fraction:g} "
        f"seed {cfg.seed}"
    )


def share_group(cfg: RunConfig) -> tuple:
    """Runs in one group may share a weak stage, so they run one after another."""
    return (
        config_hash(cfg.task),
        config_hash(cfg.weak),
        cfg.seed,
        cfg.strong_model,
        allocate(cfg.budget, cfg.weak_cost, cfg.hq_fraction).n_weak,
    )


def run_sweep(
    configs: list[RunConfig],
    results: Path | str = "results",
    executor: str = "local",
    ray_address: str | None = None,
    share_weak_stages: bool = True,
    cpus_per_run: float = 1.0,
    gpus_per_run: float = 0.0,
) -> SweepReport:
    """Run every config the store lacks. Every config is checked before anything runs."""
    from tqdm.auto import tqdm

    from labelbudget.run import check

    results = Path(results)
    start = time.perf_counter()
    todo = list(pending(configs, results))
    for cfg in todo:  # bad input anywhere stops the sweep before it writes anything
        check(cfg)
    bar = tqdm(
        total=len(configs), initial=len(configs) - len(todo), desc="sweep", unit="run", dynamic_ncols=True
    )
    try:
        if executor == "local":
            _run_local(todo, results, share_weak_stages, bar)
        elif executor == "ray":
            _run_ray(todo, results, share_weak_stages, bar, ray_address, cpus_per_run, gpus_per_run)
        else:
            raise UserError(f"unknown executor {executor!r}", "use --executor local or --executor ray")
    finally:
        bar.close()
    return SweepReport(len(configs), len(configs) - len(todo), len(todo), time.perf_counter() - start)


def _finished(bar, record) -> None:
    bar.update()
    bar.write(
        f"  done: {record.method} {record.task} ${record.budget:g} c={record.weak_cost:g} "
        f"f={record.hq_fraction:g} seed {record.seed}: accuracy {record.accuracy:.3f} "
        f"({record.seconds:.0f} s)"
    )


def _run_local(todo: list[RunConfig], results: Path, share: bool, bar) -> None:
    from labelbudget.run import compute
    from labelbudget.store import Store

    store = Store(results)
    for cfg in todo:
        bar.set_postfix_str(f"running {describe(cfg)}")
        record = compute(cfg, results, share_weak_stages=share)
        store.add(record)
        _finished(bar, record)


def _weak_labels_task(config: RunConfig, results: str) -> str:
    from labelbudget.tasks import load_task
    from labelbudget.weak import weak_labels

    labels, _ = weak_labels(load_task(config.task), config.task, config.weak, Path(results) / "artifacts")
    return labels.key


def _compute_task(config: RunConfig, results: str, share: bool):
    from labelbudget.run import compute

    return compute(config, results, share_weak_stages=share)


def _run_ray(todo, results, share, bar, address, cpus, gpus) -> None:
    """Each run is a Ray task with declared CPU/GPU needs; the driver writes the store. Workers
    must see `results` (one machine, or a shared filesystem). Weak labels are made first, one
    task per weak labeler; runs that may share a weak stage are chained so the later ones branch."""
    try:
        import ray
    except ImportError as e:
        raise UserError("--executor ray needs Ray", "pip install 'labelbudget[ray]'") from e
    from labelbudget.store import Store

    if not ray.is_initialized():
        ray.init(
            address=address,
            include_dashboard=False,
            log_to_driver=False,
            ignore_reinit_error=True,
            runtime_env={"env_vars": {"TOKENIZERS_PARALLELISM": "false"}},
        )
    results_str = str(Path(results).resolve())
    weak_remote = ray.remote(num_cpus=cpus, num_gpus=gpus)(_weak_labels_task)
    run_remote = ray.remote(num_cpus=cpus, num_gpus=gpus)(_compute_task)
    labelers = {(config_hash(c.task), config_hash(c.weak)): c for c in todo}
    ray.get([weak_remote.remote(c, results_str) for c in labelers.values()])

    groups: dict[tuple, list[RunConfig]] = {}
    for cfg in todo:
        groups.setdefault(share_group(cfg), []).append(cfg)
    queues = [list(g) for g in groups.values()]
    in_flight = {}
    for q in queues:
        in_flight[run_remote.remote(q.pop(0), results_str, share)] = q
    store = Store(results)
    while in_flight:
        (ready,), _ = ray.wait(list(in_flight), num_returns=1)
        queue = in_flight.pop(ready)
        record = ray.get(ready)
        store.add(record)
        _finished(bar, record)
        if queue:
            in_flight[run_remote.remote(queue.pop(0), results_str, share)] = queue
        bar.set_postfix_str(f"{len(in_flight)} runs in flight")
