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

from labelbudget.budget import Allocation, allocate, allocation_of, run_key
from labelbudget.config import (
    MethodOptions,
    ProbeConfig,
    RunConfig,
    TaskConfig,
    TrainConfig,
    WeakConfig,
    check_types,
    config_hash,
)
from labelbudget.errors import PoolTooSmall, UserError
from labelbudget.store import Claims, Store

PAPER_TASKS = ("hellaswag", "social_i_qa", "cosmos_qa")
"""Table 1 and Figure 5 average these three (PROTOCOL, "The paper's numbers")."""


@dataclass(frozen=True)
class Grid:
    """The axes of a sweep; every combination is one run of the template, unless it buys the
    same allocation (n_weak, n_hq) as another (then it is that run: see `budget.run_key`)."""

    tasks: tuple[str, ...] = ("tweet-sentiment",)
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
    method_fractions: Annotated[dict[str, tuple[float, ...]], tyro.conf.Suppress] = field(
        default_factory=dict
    )
    """Per-method HQ fractions overriding `hq_fractions` (e.g. a cheaper method subset)."""

    def __post_init__(self) -> None:
        check_types(self)
        for axis in ("tasks", "methods", "budgets", "weak_costs", "hq_fractions", "seeds"):
            if not getattr(self, axis):
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
        smaller = min(n for n in (alloc.n_weak, alloc.n_hq) if n > 0) if alloc.n_weak + alloc.n_hq else 0
        return self.small_stage_seeds if self.small_stage_seeds and smaller <= SMALL_STAGE else self.seeds


def _values(axis: str, values: tuple, ok: Callable[[Any], bool], expected: str) -> None:
    bad = [v for v in values if not ok(v)]
    if bad:
        raise UserError(f"{axis} must be {expected}, got {bad}", f"fix {axis} in the sweep file or flags")


SMALL_STAGE = 10
"""PROTOCOL, "What the authors' code did": 7 seeds where the smaller stage has <= 10 examples."""


def _merge(template: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    """A config from the template with nested fields overridden (JSON/YAML shaped)."""
    nested = {
        "task": TaskConfig,
        "weak": WeakConfig,
        "train": TrainConfig,
        "options": MethodOptions,
        "probe": ProbeConfig,
    }
    kwargs = {}
    if not isinstance(overrides, dict):
        raise UserError(
            f"template must be a mapping, got {overrides!r}", "write `template:` with RunConfig fields"
        )
    for key, value in overrides.items():
        if key in nested:
            known = {f.name for f in dataclasses.fields(nested[key])}
            if not isinstance(value, dict) or set(value) - known:
                raise UserError(
                    f"template.{key} must be a mapping of its fields, got {value!r}",
                    f"use fields of {nested[key].__name__}: {', '.join(sorted(known))}",
                )
            kwargs[key] = dataclasses.replace(getattr(template, key), **value)
        elif key in {f.name for f in dataclasses.fields(RunConfig)}:
            kwargs[key] = value
        else:
            raise UserError(
                f"unknown template field {key!r}",
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


def expand(template: RunConfig, grid: Grid) -> list[RunConfig]:
    """Every run of the grid, one per run identity (`budget.run_key`: the first config in grid
    order that buys an allocation stands for all that buy it), ordered so that runs sharing a
    weak stage (same task, seed, weak labels and n_weak) are adjacent."""
    configs: dict[str, RunConfig] = {}
    for task in grid.tasks:
        base = dataclasses.replace(template, task=dataclasses.replace(template.task, task=task))
        for method in grid.methods:
            for budget, cost, f in _points(grid, method):
                cfg = dataclasses.replace(base, method=method, budget=budget, weak_cost=cost, hq_fraction=f)
                for seed in grid.seeds_for(allocation_of(cfg)):
                    seeded = dataclasses.replace(cfg, seed=seed)
                    configs.setdefault(run_key(seeded), seeded)
    return sorted(configs.values(), key=lambda c: (share_group(c), c.method, c.budget, c.hq_fraction))


def count_configs(template: RunConfig, grid: Grid) -> int:
    """How many configs the grid names before runs are identified by what they buy (for the
    record of what re-costing and de-duplication save)."""
    return sum(
        len(grid.seeds_for(allocate(b, c, f)))
        for _ in grid.tasks
        for m in grid.methods
        for b, c, f in _points(grid, m)
    )


PAPER_SFT = Grid(
    tasks=PAPER_TASKS,
    methods=("seq_sft", "prompted_seq_sft", "logconf", "uncertainty"),
    budgets=(16, 64, 256, 1024, 4096),
    weak_costs=(0.1,),
    hq_fractions=(0.0, 0.05, 0.2, 0.4, 0.6, 0.8, 1.0),
    seeds=(0, 1, 2),
    small_stage_seeds=tuple(range(7)),
    hq_only_budgets=(8192,),
)
"""PROTOCOL's grid for the fine-tuning methods: budgets 16..4096 plus 8192 HQ-only; HQ fractions
0.8/0.6/0.4/0.2/0.05 and the pure ends, as allocations at $0.10 per weak label (the authors'
`cost_sweep.py` lists its (n_weak, n_hq) pairs at $0.10) re-costed at $0.50 and $0.01 in the
analysis; 3 seeds, 7 where the smaller stage has <= 10 examples; its three Table-1 tasks."""

PAPER_ICL = (
    dataclasses.replace(
        PAPER_SFT, methods=("icl",), budgets=(0.3, 0.5, 1, 3, 6), hq_fractions=(0.0,), hq_only_budgets=()
    ),
    dataclasses.replace(
        PAPER_SFT, methods=("icl",), budgets=(3, 5, 10, 30, 50, 60), hq_fractions=(1.0,), hq_only_budgets=()
    ),
)
"""The authors' ICL sweep (`cost_sweep_few_shot.py`): every label bought is a demonstration;
3, 5, 10, 30, 60 weak-only shots (budgets at $0.10 a label) and 3, 5, 10, 30, 50, 60 HQ-only."""

PAPER_GRIDS = (PAPER_SFT, *PAPER_ICL)

PAPER_GRID_ALL_COSTS = dataclasses.replace(PAPER_SFT, weak_costs=(0.5, 0.1, 0.01))
"""The same grid run at every weak cost instead of re-costed (what a sweep ran before)."""


def paper_configs() -> list[RunConfig]:
    return [cfg for grid in PAPER_GRIDS for cfg in expand(RunConfig(), grid)]


def _demo() -> list[RunConfig]:
    from labelbudget.demo import demo_configs

    return demo_configs()


PRESETS: dict[str, Callable[[], list[RunConfig]]] = {
    "paper": paper_configs,
    "demo": _demo,
}


@dataclass(frozen=True)
class SweepFile:
    template: RunConfig
    grid: Grid


def read_sweep(path: Path) -> SweepFile:
    """A sweep from YAML or JSON: `template` (RunConfig fields, nested as in a record's config)
    plus the Grid's axes at the top level. A key given twice is refused (YAML and JSON parsers
    would silently keep the last), and so is a value of the wrong type."""
    if not path.is_file():
        raise UserError(f"sweep file {path} does not exist", "pass a .yaml or .json sweep file")
    try:
        text = path.read_text()
        data = _load_yaml(text) if path.suffix.lower() in (".yaml", ".yml") else _load_json(text)
    except UserError as e:
        raise UserError(f"sweep file {path}: {e.problem}", e.fix) from e
    except Exception as e:
        raise UserError(
            f"could not parse sweep file {path}: {' '.join(str(e).split())}", "check its YAML/JSON syntax"
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
    grid = Grid(**{k: _axis(k, v) for k, v in data.items()})
    return SweepFile(template, grid)


def _axis(name: str, value: Any) -> Any:
    """A grid axis from YAML/JSON: a list (a scalar is refused, not read letter by letter)."""
    if name == "method_fractions":
        if not isinstance(value, dict) or not all(isinstance(v, list) for v in value.values()):
            raise UserError(
                f"method_fractions must map methods to lists of fractions, got {value!r}",
                "write e.g. method_fractions: {icl: [0, 1]}",
            )
        return {m: tuple(fs) for m, fs in value.items()}
    if not isinstance(value, list):
        raise UserError(f"{name} must be a list, got {value!r}", f"write e.g. {name}: [{value!r}]")
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


@dataclass
class SweepReport:
    total: int
    already: int
    """Runs stored before this sweep started or, meanwhile, by another process."""
    ran: int
    """Runs this process trained and stored."""
    seconds: float
    skipped: int = 0
    """Runs whose allocation the task's pool cannot supply (with `skip_unsupplied`)."""
    busy: int = 0
    """Runs another process was training when this one reached them (left to it)."""

    @property
    def notes(self) -> tuple[str, ...]:
        notes = []
        if self.skipped:
            notes.append(
                f"{self.skipped} of the grid's {self.total} runs were skipped: the pool cannot supply "
                "their allocation"
            )
        if self.busy:
            notes.append(
                f"{self.busy} runs were left to another process that was training them; rerun the "
                "sweep after it ends to confirm they are stored"
            )
        return tuple(notes)

    def summary(self, results: Path) -> str:
        return (
            f"sweep: {self.ran} runs done now by this process, {self.already} already stored, "
            f"{self.busy} left to another process running them, {self.skipped} skipped (pool too "
            f"small); {self.total} in all ({self.seconds:.0f} s); results in {results}"
        )


def pending(configs: list[RunConfig], results: Path) -> Iterator[RunConfig]:
    """The configs whose run (by identity, `budget.run_key`) the store lacks."""
    done = Store(results).run_keys()
    return (c for c in configs if run_key(c) not in done)


def describe(cfg: RunConfig) -> str:
    alloc = allocation_of(cfg)
    return (
        f"{cfg.method} {cfg.task.task} ${cfg.budget:g} c={cfg.weak_cost:g} f={cfg.hq_fraction:g} "
        f"({alloc.n_weak} weak + {alloc.n_hq} HQ) seed {cfg.seed}"
    )


def invalid(configs: list[RunConfig]) -> list[tuple[RunConfig, UserError]]:
    """The configs that `run.validate` refuses (no data or model is loaded), with why."""
    from labelbudget.run import validate

    bad = []
    for cfg in configs:
        try:
            validate(cfg)
        except UserError as e:
            bad.append((cfg, e))
    return bad


def refuse_invalid(configs: list[RunConfig]) -> None:
    """One error naming every config the sweep would refuse, before anything runs."""
    bad = invalid(configs)
    if bad:
        listed = "; ".join(f"{describe(c)}: {e.problem}" for c, e in bad[:3])
        more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
        raise UserError(
            f"{len(bad)} of the sweep's {len(configs)} runs would be refused: {listed}{more}",
            bad[0][1].fix,
        )


def share_group(cfg: RunConfig) -> tuple:
    """Runs in one group may share a weak stage, so they run one after another."""
    return (
        config_hash(cfg.task),
        config_hash(cfg.weak),
        cfg.seed,
        cfg.strong_model,
        allocation_of(cfg).n_weak,
    )


def run_sweep(
    configs: list[RunConfig],
    results: Path | str = "results",
    executor: str = "local",
    ray_address: str | None = None,
    share_weak_stages: bool = True,
    cpus_per_run: float = 1.0,
    gpus_per_run: float = 0.0,
    skip_unsupplied: bool = False,
) -> SweepReport:
    """Run every config the store lacks. Every config is checked before anything runs; with
    `skip_unsupplied`, those whose allocation the pool cannot supply are skipped and counted
    instead of stopping the sweep."""
    from tqdm.auto import tqdm

    from labelbudget.run import check

    results = Path(results)
    start = time.perf_counter()
    store = Store(results)
    store.check()
    todo = list(pending(configs, results))
    refuse_invalid(todo)  # bad input anywhere stops the sweep before it writes anything
    supplied = []
    for cfg in todo:
        try:
            check(cfg)
        except PoolTooSmall:
            if not skip_unsupplied:
                raise
            continue
        supplied.append(cfg)
    skipped, todo = len(todo) - len(supplied), supplied
    bar = tqdm(
        total=len(configs), initial=len(configs) - len(todo), desc="sweep", unit="run", dynamic_ncols=True
    )
    tally = Tally()
    try:
        with Claims(store) as claims:
            if executor == "local":
                _run_local(todo, results, share_weak_stages, bar, claims, tally)
            elif executor == "ray":
                _run_ray(
                    todo,
                    results,
                    share_weak_stages,
                    bar,
                    claims,
                    tally,
                    ray_address,
                    cpus_per_run,
                    gpus_per_run,
                )
            else:
                raise UserError(f"unknown executor {executor!r}", "use --executor local or --executor ray")
    finally:
        bar.close()
    return SweepReport(
        total=len(configs),
        already=len(configs) - len(todo) - skipped + tally.stored_elsewhere,
        ran=tally.ran,
        seconds=time.perf_counter() - start,
        skipped=skipped,
        busy=tally.busy,
    )


@dataclass
class Tally:
    """What happened to the runs this process reached."""

    ran: int = 0
    stored_elsewhere: int = 0
    busy: int = 0

    def claim(self, claims: Claims, cfg: RunConfig, bar) -> bool:
        """Claim `cfg`'s run; False (counted, and said) if another process stored or holds it."""
        status = claims.take(cfg)
        if status == "stored":
            self.stored_elsewhere += 1
            bar.update()
        elif status == "busy":
            self.busy += 1
            bar.update()
            bar.write(f"  skipped: {describe(cfg)}: another process is training it")
        return status == "claimed"

    def stored(self, store: Store, claims: Claims, cfg: RunConfig, record, bar) -> None:
        added = store.add(record)
        claims.release(cfg)
        if added:
            self.ran += 1
            _finished(bar, record)
        else:  # cannot happen while claims hold; said rather than counted twice
            self.stored_elsewhere += 1
            bar.update()
            bar.write(f"  discarded: {describe(cfg)}: another process stored it first")


def _finished(bar, record) -> None:
    bar.update()
    bar.write(
        f"  done: {record.method} {record.task} ${record.budget:g} c={record.weak_cost:g} "
        f"f={record.hq_fraction:g} seed {record.seed}: accuracy {record.accuracy:.3f} "
        f"({record.seconds:.0f} s) [{record.config_hash}]"
    )


def _run_local(todo: list[RunConfig], results: Path, share: bool, bar, claims: Claims, tally: Tally) -> None:
    from labelbudget.run import compute

    for cfg in todo:
        if not tally.claim(claims, cfg, bar):
            continue
        bar.set_postfix_str(f"running {describe(cfg)}")
        try:
            record = compute(cfg, results, share_weak_stages=share)
        except BaseException:
            claims.release(cfg)
            raise
        tally.stored(claims.store, claims, cfg, record, bar)


def _weak_labels_task(config: RunConfig, results: str) -> str:
    from labelbudget.tasks import load_task
    from labelbudget.weak import weak_labels

    labels, _ = weak_labels(load_task(config.task), config.task, config.weak, Path(results) / "artifacts")
    return labels.key


def _compute_task(config: RunConfig, results: str, share: bool):
    from labelbudget.run import compute

    return compute(config, results, share_weak_stages=share)


def _run_ray(todo, results, share, bar, claims, tally, address, cpus, gpus) -> None:
    """Each run is a Ray task with declared CPU/GPU needs; the driver claims each run before it
    submits it and writes the store. Workers must see `results` (one machine, or a shared
    filesystem). Weak labels are made first, one task per weak labeler; runs that may share a
    weak stage are chained so the later ones branch."""
    try:
        import ray
    except ImportError as e:
        raise UserError("--executor ray needs Ray", "pip install 'labelbudget[ray]'") from e

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
    in_flight: dict = {}

    def submit(queue: list[RunConfig]) -> None:
        while queue:
            cfg = queue.pop(0)
            if tally.claim(claims, cfg, bar):
                in_flight[run_remote.remote(cfg, results_str, share)] = (cfg, queue)
                return

    for group in groups.values():
        submit(list(group))
    while in_flight:
        (ready,), _ = ray.wait(list(in_flight), num_returns=1)
        cfg, queue = in_flight.pop(ready)
        try:
            record = ray.get(ready)
        except BaseException:
            claims.release(cfg)
            raise
        tally.stored(claims.store, claims, cfg, record, bar)
        submit(queue)
        bar.set_postfix_str(f"{len(in_flight)} runs in flight")
