"""One budgeted elicitation run, end to end:

    task -> weak labels -> allocation -> method.fit (buying labels) -> test metrics -> record

Everything a user can get wrong is checked before any training starts, and the record is
written in one transaction at the very end, so a failed or killed run leaves no row.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labelbudget.allocation import allocation_of, prices_of
from labelbudget.config import MethodOptions, RunConfig
from labelbudget.labels.budget import Allocation, partition_pool
from labelbudget.labels.labeling import read_labels
from labelbudget.labels.person import as_paths, test_labels
from labelbudget.labels.sources import Ledger, Setup, WeakInfo, sources_for
from labelbudget.labelspace import hard
from labelbudget.learners import LEARNERS
from labelbudget.methods import Elicitation, Method, get_method
from labelbudget.metrics import evaluate, label_quality
from labelbudget.models.backbone import check_model
from labelbudget.runs.claims import Claims
from labelbudget.runs.identity import (
    canonical,
    config_hash,
    display_method,
    inputs,
    same_run,
    stored_hash,
    weak_stage_key,
)
from labelbudget.runs.record import Record, decode_predictions, encode_predictions, git_commit, versions
from labelbudget.runs.store import Store
from labelbudget.tasks import TaskData, load_task
from labelbudget.tasks.registry import label_space
from labelbudget.util.atomic import refuse_links
from labelbudget.util.errors import PoolTooSmall, UserError
from labelbudget.util.hashing import stable_hash
from labelbudget.util.profiling import Phases

log = logging.getLogger(__name__)


def run(
    config: RunConfig,
    results: Path | str = "results",
    labels_file: Path | str | list | None = None,
    share_weak_stages: bool = False,
    save_model: Path | str | None = None,
) -> tuple[Record, bool]:
    """Run `config` unless its record, or that of a config buying the same allocation
    (`runs.identity.run_key`), is already stored. Returns (record, whether it ran now).

    With `--oracle file` the run stops (`LabelsNeeded`) once it knows which examples need a
    person's labels; call again with `labels_file` (that file, labeled; or a list of files) to
    resume and finish. Bad input (the config, the results folder, the labels files) is refused
    before anything is written, the store file included.
    """
    refuse_unread(config)
    refuse_links(Path(results))
    if labels_file:  # a bad labels file is refused before the store is touched
        read_labels(as_paths(labels_file), label_space(config.task))
    store = Store(results)
    store.check()
    store.import_kept()
    if save_model is not None:
        from labelbudget.learners.saved import check_savable

        check_savable(config, Path(save_model))
    done = store.find(config)
    if done is None and save_model is None:
        done = stored_twin(config, store)
    if done is not None:
        if config.task.unlabeled and labels_file is not None:
            _check_test_labels(config, done, labels_file)
        if save_model is not None:
            raise UserError(
                f"this run is already stored in {results}, and its classifier was not saved then",
                f"rerun with --save-model {save_model} and another --results folder to train and save it",
            )
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
        record = compute(config, results, labels_file, share_weak_stages, save_model)
        store.add_or_keep(record)
    return record, True


def stored_twin(config: RunConfig, store: Store) -> Record | None:
    """The stored run of the method whose run this config's is at its allocation
    (`runs.identity.same_run`: all-weak uncertainty sampling is all-weak seq_sft), stored again
    under this config and returned; None where there is no such method or it is not stored. The
    copy is the same run: its predictions, stages and timings, its own config and cost, and a
    note naming the run it is."""
    other = same_run(config)
    if other is None or (done := store.find(other)) is None:
        return None
    note = f"the same run as {done.method}'s at this allocation (run once: {done.config_hash})"
    record = dataclasses.replace(
        done,
        config_hash=stored_hash(config, done.inputs),
        config=canonical(config),
        method=display_method(config),
        budget=config.budget,
        weak_cost=config.weak_cost,
        hq_fraction=config.hq_fraction,
        spent=round(allocation_of(config).cost(prices_of(config)), 9),
        notes=[*done.notes, note],
    )
    store.add_or_keep(record)
    return record


def _check_test_labels(config: RunConfig, done: Record, labels_file) -> None:
    """A stored gold-free run was scored on the person's test labels of then: refuse to serve it
    if the labels files now label some of those test texts differently (corrected labels)."""
    if done.predictions is None:
        return
    task = load_task(config.task)
    bank = read_labels(as_paths(labels_file), task.space)
    texts = task.test.texts
    then = decode_predictions(done.predictions)[1]
    changed = sum(bank.get(t.strip(), int(y)) != int(y) for t, y in zip(texts, then, strict=True))
    if changed:
        raise UserError(
            f"this run is stored (config {done.config_hash}), scored on test labels of which {changed} "
            f"of {len(texts)} differ from what your labels files say now",
            "pass another --results folder to rerun it on the corrected test labels (the stored run "
            "is kept as it was)",
        )


@dataclass(frozen=True)
class Checked:
    """A config that passed every check, with what the checks computed."""

    method: type[Method]
    allocation: Allocation
    task: TaskData
    excluded: np.ndarray | None
    """Pool ids kept out of the elicitation pool (the weak model's own examples), or None."""


def refuse_unread(config: RunConfig) -> None:
    """A single run refuses an option its method does not read (it would change nothing). In a
    sweep, a template's options apply to the methods that read them."""
    spec = get_method(config.method)
    defaults = MethodOptions()
    unread = [
        f.name
        for f in dataclasses.fields(MethodOptions)
        if f.name not in spec.reads and getattr(config.options, f.name) != getattr(defaults, f.name)
    ]
    if not spec.learner and config.learner != "lora":
        unread.append("learner")
    if unread:
        flags = " ".join(f"--{n.replace('_', '-')}" for n in unread)
        reads = ", ".join(f"--{n.replace('_', '-')}" for n in spec.reads) or "none"
        raise UserError(
            f"{flags} does not apply to --method {config.method} (it reads: {reads})",
            f"omit {flags}, or choose a method that reads it (`labelbudget list`)",
        )


def validate(config: RunConfig) -> tuple[type[Method], Allocation]:
    """Every check that needs neither data nor models: the method, learner and label sources
    exist, and the method can use what the budget buys (a sweep's `--dry-run` runs exactly this
    on every config)."""
    spec = get_method(config.method)
    if spec.learner:
        LEARNERS.get_or_fail(config.learner)
    sources_for(config)
    method_cls = spec.cls
    alloc = allocation_of(config)
    method_cls.validate(config, alloc)
    return method_cls, alloc


def check(config: RunConfig) -> Checked:
    """Everything a user can get wrong, checked before any training (UserError with a fix)."""
    method_cls, alloc = validate(config)
    check_model(config.strong_model)
    check_model(config.weak.weak_model)
    task = load_task(config.task)
    if not task.gold:
        _check_gold_free(config, task)
    for me, spec in sources_for(config):
        spec.check(config, task, me)
    excluded = _check_pool(config, alloc, task)
    return Checked(method_cls, alloc, task, excluded)


def _check_gold_free(config: RunConfig, task: TaskData) -> None:
    """A task without gold labels (`tasks.gold`) refuses the sources that would read them."""
    for me, spec in sources_for(config):
        if not spec.needs_gold:
            continue
        if config.sources:
            raise UserError(
                f"--source {me}: {spec.description} reads gold labels, but task {task.name!r} has none "
                "(--unlabeled)",
                "give that source labels that need no gold (column:NAME, file:PATH, prompt:MODEL) or a "
                "person (person)",
            )
        if me.name == "weak":
            raise UserError(
                f"--weak-labels {config.weak_labels} needs gold labels ({spec.description}), but task "
                f"{task.name!r} has none (--unlabeled)",
                "pass --weak-labels column:NAME, file:PATH or prompt:MODEL (weak labels that need no gold)",
            )
        raise UserError(
            f"--oracle {config.oracle} sells the task's gold labels, but task {task.name!r} has none "
            "(--unlabeled)",
            "pass --oracle file: a person labels what the run asks for (CSV or Label Studio)",
        )


def _check_pool(config: RunConfig, alloc: Allocation, task: TaskData) -> np.ndarray | None:
    """The pool can supply the allocation; returns the ids kept out of it (or None)."""
    kept = [(me, spec, spec.reserved(config, task, me)) for me, spec in sources_for(config)]
    reserved = [r for _, _, r in kept if r is not None]
    excluded = np.unique(np.concatenate(reserved)) if reserved else None
    available = len(task.pool) - (0 if excluded is None else len(excluded))
    if alloc.total > available:
        why = [spec.kept_out(config, me) for me, spec, r in kept if r is not None]
        what, fix = "; ".join(w for w, _ in why), ", ".join(f for _, f in why if f)
        if config.sources:
            asked = f"shares {' '.join(config.shares)}, needs " + " + ".join(
                f"{n} {name}" for name, n in alloc.counts
            )
            more = "lower --budget, or give the cheaper sources smaller shares (they use more examples per $)"
        else:
            asked = f"HQ fraction {config.hq_fraction:g}, needs {alloc.n_weak} weak + {alloc.n_hq} HQ"
            more = "lower --budget, raise --hq-fraction (HQ labels use fewer examples per $)"
        raise PoolTooSmall(
            f"{config.method} at ${config.budget:g}, {asked} examples but the pool of {task.name!r} has "
            f"{available}" + (f" ({what})" if what else ""),
            more + (f", {fix}" if fix else ""),
        )
    return excluded


def refusal(config: RunConfig) -> str | None:
    """Why `run` would refuse this config (its method, a source that needs gold on a task without
    it, or a pool too small), or None. Where the task's data cannot be loaded here, only the
    checks that need no data apply."""
    try:
        _, alloc = validate(config)
    except UserError as e:
        return e.problem
    try:
        task = load_task(config.task)
    except UserError:
        return None
    try:
        if not task.gold:
            _check_gold_free(config, task)
        _check_pool(config, alloc, task)
    except UserError as e:
        return e.problem
    return None


def _test_accuracy(source, task, every: bool = False) -> float | None:
    """The accuracy of a source's labels of the test texts it knows (a weak-label file may lack
    some, or all); None where it knows none (a person), or with `every` where it lacks one (sources
    are compared on the same texts)."""
    probs = getattr(getattr(source, "info", None), "test_probs", None)
    if probs is None:
        return None
    known = ~np.isnan(probs).any(axis=-1)
    if not known.any() or (every and not known.all()):
        return None
    return float((hard(probs) == task.test.labels)[known].mean())


def spend_note(eval_spent: float | None, budget: float) -> list[str]:
    if eval_spent is None:
        return []
    return [
        f"evaluation spend: the {eval_spent:g} test labels came from you (${eval_spent:g} at $1 each), "
        f"outside the ${budget:g} training budget"
    ]


def compute(
    config: RunConfig,
    results: Path | str = "results",
    labels_file: Path | str | list | None = None,
    share_weak_stages: bool = False,
    save_model: Path | str | None = None,
) -> Record:
    """Do the run and return its record, without touching the store (executors call this; the
    caller stores the record)."""
    results = Path(results)
    read = inputs(config)  # before the data is read: an edit made during the run is a new run
    key = stored_hash(config, read)
    phases = Phases()
    started = datetime.datetime.now(datetime.UTC)
    start = time.perf_counter()
    with phases("data and checks"):
        checked = check(config)
        read_labels(as_paths(labels_file), checked.task.space)  # refused now, not after the weak stage
    method, alloc, task, excluded = checked.method(), checked.allocation, checked.task, checked.excluded
    eval_spent = None
    if task.test_pending:  # no gold: the person labels the test set first (once per task)
        task, eval_spent = test_labels(task, results, labels_file), float(len(task.test))
    rng = np.random.default_rng(config.seed)
    sides = partition_pool(len(task.pool), alloc, rng, exclude=excluded)
    sources = []
    for (me, spec), side, count in zip(sources_for(config), sides, alloc.values, strict=True):
        sources.append(spec.build(Setup(config, task, side, count, results, key, labels_file, phases, me)))
    weak = sources[0]
    if weak.info is None:  # a first source that says nothing of its labels (gold, a person)
        weak.info = WeakInfo(None, f"{weak.name}-{weak.price:g}")
    ledger = Ledger({s.name: s for s in sources})
    weak_file = None
    if share_weak_stages and not config.sources:  # the paper's pair: runs share a weak stage
        stage = {"stage": weak_stage_key(config), "data": task.fingerprint, "weak": weak.info.key}
        weak_file = results / "artifacts" / "weak_stages" / f"{stable_hash(stage)}.safetensors"
    ctx = Elicitation(config, task, alloc, sources, sides, weak_file, results / "artifacts", phases)
    method.fit(ctx)
    with phases("test scoring"):
        test_scores = method.score(task.test.texts)
    metrics = evaluate(test_scores, task.test.labels, weak.info.test_probs)
    weak_accuracy = _test_accuracy(weak, task)
    weak_accuracy = float("nan") if weak_accuracy is None else weak_accuracy
    source_accuracy = None
    if len(sources) > 2:  # the middle sources too: a run is judged against the best labels it learned from
        source_accuracy = {s.name: _test_accuracy(s, task, every=True) for s in sources[:-1]}
        source_accuracy = {k: v for k, v in source_accuracy.items() if v is not None} or None

    assert ledger.spent <= config.budget + 1e-6, (ledger.spent, config.budget)
    model = getattr(getattr(method, "learner", method), "model", None)
    params = next(model.parameters()) if model is not None else None
    record = Record(
        config_hash=key,
        config=canonical(config),
        inputs=read,
        task=task.name,
        method=display_method(config),
        strong_model=config.strong_model,
        weak_model=config.weak.weak_model,
        budget=config.budget,
        weak_cost=config.weak_cost,
        hq_fraction=config.hq_fraction,
        seed=config.seed,
        n_weak=sum(s.sold for s in sources[:-1]),
        n_hq=sources[-1].sold,
        spent=round(ledger.spent, 9),
        **dataclasses.asdict(metrics),
        weak_accuracy=weak_accuracy,
        weak_pool=config.weak.weak_pool,
        data_fingerprint=task.fingerprint,
        weak_key=weak.info.key,
        # through JSON, so the record equals what the store gives back (tuples become lists)
        stages=json.loads(json.dumps([dataclasses.asdict(s) for s in method.stages])),
        notes=list(task.notes + weak.info.notes) + method.notes + spend_note(eval_spent, config.budget),
        device=str(params.device) if params is not None else "cpu",
        dtype=str(params.dtype) if params is not None else "n/a",
        started_at=started.isoformat(timespec="seconds"),
        seconds=time.perf_counter() - start,
        weak_seconds=weak.info.seconds,
        versions=versions(),
        git_commit=git_commit(),
        phases=phases.records(),
        predictions=encode_predictions(test_scores, task.test.labels),
        weak_quality=label_quality(weak.info.test_probs, task.test.labels, "test split"),
        eval_spent=eval_spent,
        source_accuracy=source_accuracy,
        weak_spent_once=weak.info.spent_once or None,
        classes=list(task.space.names),
        counts=ledger.counts,
        prices={s.name: s.price for s in sources},
    )
    if save_model is not None:
        from labelbudget.learners.saved import save_model as save

        with phases("saving the model"):
            save(save_model, method, config, record)
    return record
