"""One budgeted elicitation run, end to end:

    task -> weak labels -> allocation -> method.fit (buying labels) -> test metrics -> record

Everything a user can get wrong is checked before any training starts, and the record is
written in one transaction at the very end, so a failed or killed run leaves no row.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib.metadata
import json
import logging
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labelbudget.budget import Allocation, GroundTruthOracle, allocate, partition_pool
from labelbudget.config import RunConfig, config_hash, to_dict
from labelbudget.errors import PoolTooSmall, UserError
from labelbudget.labeling import FileOracle
from labelbudget.methods import Elicitation, Method, WeakLabelSeller, get_method
from labelbudget.metrics import evaluate
from labelbudget.models import check_model
from labelbudget.profiling import Phases
from labelbudget.store import Claims, Record, Store
from labelbudget.tasks import TaskData, load_task
from labelbudget.weak import weak_labels, weak_split

log = logging.getLogger(__name__)

VERSIONED = ("labelbudget", "torch", "transformers", "peft", "numpy", "scikit-learn")


def versions() -> dict[str, str]:
    out = {}
    for name in VERSIONED:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def git_commit() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def run(
    config: RunConfig,
    results: Path | str = "results",
    labels_file: Path | str | None = None,
    share_weak_stages: bool = False,
) -> tuple[Record, bool]:
    """Run `config` unless its record, or that of a config buying the same allocation
    (`budget.run_key`), is already stored. Returns (record, whether it ran now).

    With `--oracle file` the run stops (`LabelsNeeded`) once it knows which examples need HQ
    labels; call again with `labels_file` (that CSV, labeled) to resume and finish.
    """
    store = Store(results)
    store.check()
    if (done := store.find(config)) is not None:
        return done, False
    check(config)  # before the claim: bad input writes nothing
    with Claims(store) as claims:
        status = claims.take(config)
        if status == "stored":  # by another process since the lookup above
            return store.find(config), False
        if status == "busy":
            raise UserError(
                f"another process is training this run now (config {config_hash(config)}) in {results}",
                "wait for it to finish, then rerun: its record will be found and shown",
            )
        record = compute(config, results, labels_file, share_weak_stages)
        store.add(record)
    return record, True


@dataclass(frozen=True)
class Checked:
    """A config that passed every check, with what the checks computed."""

    method: type[Method]
    allocation: Allocation
    task: TaskData
    excluded: np.ndarray | None
    """Pool ids kept out of the elicitation pool (the weak model's own examples), or None."""


def validate(config: RunConfig) -> tuple[type[Method], Allocation]:
    """Every check that needs neither data nor models: the method exists and can use what the
    budget buys (a sweep's `--dry-run` runs exactly this on every config)."""
    method_cls = get_method(config.method).cls
    alloc = allocate(config.budget, config.weak_cost, config.hq_fraction)
    method_cls.validate(config, alloc)
    return method_cls, alloc


def check(config: RunConfig) -> Checked:
    """Everything a user can get wrong, checked before any training (UserError with a fix)."""
    method_cls, alloc = validate(config)
    check_model(config.strong_model)
    check_model(config.weak.weak_model)
    task = load_task(config.task)
    excluded = _check_pool(config, alloc, task)
    return Checked(method_cls, alloc, task, excluded)


def _check_pool(config: RunConfig, alloc: Allocation, task: TaskData) -> np.ndarray | None:
    """The pool can supply the allocation; returns the ids kept out of it (or None)."""
    split = weak_split(task, config.weak, config.task.data_seed)
    excluded = split.used_ids if config.weak.weak_pool == "clean" else None
    available = len(task.pool) - (0 if excluded is None else len(excluded))
    if alloc.n_weak + alloc.n_hq > available:
        raise PoolTooSmall(
            f"the allocation needs {alloc.n_weak} weak + {alloc.n_hq} HQ examples but the pool of "
            f"{task.name!r} has {available} (weak pool: {config.weak.weak_pool})",
            "lower --budget, raise --hq-fraction (HQ labels use fewer examples per $), or use "
            "--weak-pool paper to include the weak model's training examples",
        )
    return excluded


def refusal(config: RunConfig) -> str | None:
    """Why `run` would refuse this config (its method, or a pool too small), or None. Where the
    task's data cannot be loaded here, only the checks that need no data apply."""
    try:
        _, alloc = validate(config)
    except UserError as e:
        return e.problem
    try:
        task = load_task(config.task)
    except UserError:
        return None
    try:
        _check_pool(config, alloc, task)
    except UserError as e:
        return e.problem
    return None


def compute(
    config: RunConfig,
    results: Path | str = "results",
    labels_file: Path | str | None = None,
    share_weak_stages: bool = False,
) -> Record:
    """Do the run and return its record, without touching the store (executors call this; the
    caller stores the record)."""
    results = Path(results)
    key = config_hash(config)
    phases = Phases()
    started = datetime.datetime.now(datetime.UTC)
    start = time.perf_counter()
    with phases("data and checks"):
        checked = check(config)
    method, alloc, task, excluded = checked.method(), checked.allocation, checked.task, checked.excluded
    with phases("weak labels"):
        weak, weak_notes = weak_labels(task, config.task, config.weak, results / "artifacts")
    rng = np.random.default_rng(config.seed)
    weak_ids, hq_candidates = partition_pool(len(task.pool), alloc, rng, exclude=excluded)
    seller = WeakLabelSeller(weak_ids, weak.pool_probs)
    if config.options.oracle == "file":
        oracle = FileOracle(results / "labeling" / key, task.pool.texts, alloc.n_hq, labels_file)
    else:
        oracle = GroundTruthOracle(task.pool.labels, allowance=alloc.n_hq)
    shared = results / "artifacts" / "weak_stages" if share_weak_stages else None
    ctx = Elicitation(
        config, task, alloc, seller, oracle, hq_candidates, shared, results / "artifacts", phases
    )
    method.fit(ctx)
    with phases("test scoring"):
        test_scores = method.score(task.test.texts)
    metrics = evaluate(test_scores, task.test.labels, weak.test_probs)

    spent = seller.count * config.weak_cost + oracle.count
    assert spent <= config.budget + 1e-6, (spent, config.budget)
    model = getattr(method, "model", None)
    record = Record(
        config_hash=key,
        config=to_dict(config),
        task=task.name,
        method=config.method,
        strong_model=config.strong_model,
        weak_model=config.weak.weak_model,
        budget=config.budget,
        weak_cost=config.weak_cost,
        hq_fraction=config.hq_fraction,
        seed=config.seed,
        n_weak=seller.count,
        n_hq=oracle.count,
        spent=round(spent, 9),
        **dataclasses.asdict(metrics),
        weak_accuracy=weak.test_accuracy,
        weak_pool=config.weak.weak_pool,
        data_fingerprint=task.fingerprint,
        weak_key=weak.key,
        # through JSON, so the record equals what the store gives back (tuples become lists)
        stages=json.loads(json.dumps([dataclasses.asdict(s) for s in method.stages])),
        notes=list(task.notes + weak_notes) + method.notes,
        device=str(next(model.parameters()).device) if model is not None else "cpu",
        dtype=str(next(model.parameters()).dtype) if model is not None else "n/a",
        started_at=started.isoformat(timespec="seconds"),
        seconds=time.perf_counter() - start,
        weak_seconds=weak.seconds,
        versions=versions(),
        git_commit=git_commit(),
        phases=phases.records(),
    )
    return record
