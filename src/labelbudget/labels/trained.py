"""The `trained` weak-label source: a small model fine-tuned on ground truth (a head with a logit
per class), its class probabilities stored for every example (two classes: the paper's P(1)).

PROTOCOL, "Weak labels": train the weak model with LoRA and a new head on 8,000 ground-truth
examples (+500 for validation) for 3 epochs at lr 5e-4, no early stopping; record its probability
for every pool and test example; use them soft. The result is an artifact keyed by a hash of
everything that determines it, reused when it exists, written atomically.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from labelbudget.config import TaskConfig, TrainConfig, WeakConfig
from labelbudget.labels.sources import Fixed, Setup, SourceSpec, WeakInfo, register_source
from labelbudget.labelspace import as_probs, predicted, stored_probabilities
from labelbudget.tasks import TaskData
from labelbudget.util.hashing import stable_hash

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WeakSplit:
    """Which pool examples the weak model trains and validates on (ground truth)."""

    train_ids: np.ndarray
    val_ids: np.ndarray
    notes: tuple[str, ...]

    @property
    def used_ids(self) -> np.ndarray:
        return np.concatenate([self.train_ids, self.val_ids])


def weak_split(task: TaskData, cfg: WeakConfig, data_seed: int) -> WeakSplit:
    """The protocol's 8,000 + 500, scaled down (same ratio) where the pool is small."""
    cap = int(cfg.weak_max_pool_fraction * len(task.pool))
    asked = cfg.weak_n_train + cfg.weak_n_val
    n_train, n_val, notes = cfg.weak_n_train, cfg.weak_n_val, ()
    if asked > cap:
        n_train = max(int(cfg.weak_n_train * cap / asked), 2)
        n_val = max(int(cfg.weak_n_val * cap / asked), 2)
        notes = (
            f"weak model trained on {n_train} + {n_val} validation examples instead of "
            f"{cfg.weak_n_train} + {cfg.weak_n_val}: the pool has {len(task.pool)} "
            f"(at most {cfg.weak_max_pool_fraction:g} of it goes to the weak model)",
        )
    order = np.random.default_rng([data_seed, 1]).permutation(len(task.pool))
    return WeakSplit(order[:n_train], order[n_train : n_train + n_val], notes)


@dataclass(frozen=True)
class WeakLabels:
    """The weak labeler's output for every pool and test example: P(1) (two classes, as the paper
    stores them and as artifacts written before K classes hold them) or (n, K) probabilities."""

    pool_probs: np.ndarray
    test_probs: np.ndarray
    train_ids: np.ndarray
    """Pool ids the weak model saw (train and validation): kept out of the pool by default."""
    test_accuracy: float
    val_accuracy: float
    key: str
    seconds: float
    truncated: int = 0
    """Texts cut to the weak model's context (only with `--truncate`)."""
    stopped: str = ""
    """With a target accuracy: where the weak model's training stopped, and why."""

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
        os.close(fd)
        arrays = {k: v for k, v in asdict(self).items() if isinstance(v, np.ndarray)}
        meta = {k: v for k, v in asdict(self).items() if not isinstance(v, np.ndarray)}
        np.savez(tmp, meta=json.dumps(meta), **arrays)
        os.replace(tmp, path)  # atomic: a killed run leaves no half-written artifact

    @staticmethod
    def load(path: Path) -> WeakLabels:
        with np.load(path) as z:
            meta = json.loads(str(z["meta"]))
            return WeakLabels(
                pool_probs=z["pool_probs"], test_probs=z["test_probs"], train_ids=z["train_ids"], **meta
            )


def weak_key(task: TaskData, task_cfg: TaskConfig, cfg: WeakConfig) -> str:
    """Everything that determines the weak labels; `weak_pool` does not, so it is left out."""
    parts = {
        "data": task.fingerprint,
        "data_seed": task_cfg.data_seed,
        "weak": {k: v for k, v in asdict(cfg).items() if k != "weak_pool"},
    }
    if cfg.weak_target_accuracy is None:  # only when set: older artifacts keep their keys
        del parts["weak"]["weak_target_accuracy"]
    if task_cfg.truncate:  # only then: keys of untruncated weak labels stay as they were
        parts["truncate"] = True
    return stable_hash(parts)


def weak_labels(
    task: TaskData, task_cfg: TaskConfig, cfg: WeakConfig, artifacts: Path
) -> tuple[WeakLabels, tuple[str, ...]]:
    """Load the weak labels for this task and weak config, training the weak model if needed."""
    split = weak_split(task, cfg, task_cfg.data_seed)
    key = weak_key(task, task_cfg, cfg)
    path = artifacts / "weak" / f"{key}.npz"
    if path.exists():
        labels = WeakLabels.load(path)
    else:
        for note in split.notes:  # before the long work, not after it
            log.info("%s", note)
        labels = train_weak_model(task, cfg, split, task_cfg.data_seed, key, task_cfg.truncate)
        labels.save(path)
    notes = split.notes + ((labels.stopped,) if labels.stopped else ())
    if labels.truncated:
        notes += (f"weak model: {labels.truncated} texts truncated to its context",)
    return labels, notes


def train_weak_model(
    task: TaskData, cfg: WeakConfig, split: WeakSplit, seed: int, key: str, truncate: bool = False
) -> WeakLabels:
    from labelbudget.models.classifier import build_classifier
    from labelbudget.models.packing import Encoder
    from labelbudget.training.schedule import Schedule
    from labelbudget.training.stage import StageData, predict, train_stage

    start = time.perf_counter()
    train_cfg = TrainConfig()
    space = task.space
    model = build_classifier(cfg.weak_model, train_cfg.lora_rank, train_cfg.dtype, seed, n_classes=space.k)
    encoder = Encoder(model.tokenizer, model.max_length, truncate)
    pool_ids, test_ids = encoder(task.pool.texts), encoder(task.test.texts)
    train = StageData(
        [pool_ids[i] for i in split.train_ids], space.one_hot(task.pool.labels[split.train_ids])
    )
    log.info("training weak model %s on %d ground-truth labels", cfg.weak_model, len(train))
    target = cfg.weak_target_accuracy
    val = None
    if target is not None:
        val = StageData([pool_ids[i] for i in split.val_ids], space.one_hot(task.pool.labels[split.val_ids]))
    schedule = Schedule.fixed_epochs(len(train), cfg.weak_epochs, train_cfg, evaluate=target is not None)
    report = train_stage(
        model, train, val, schedule, train_cfg, cfg.weak_lr, seed, name="weak model", target_accuracy=target
    )
    stopped = ""
    if target is not None:
        reached = report.evals and report.evals[-1][1] >= target
        step, acc = report.evals[-1] if report.evals else (report.total_steps, float("nan"))
        stopped = (
            f"weak model stopped at step {step} of {report.total_steps}: validation accuracy {acc:.3f} "
            f"reached the target {target:g} (--weak-target-accuracy)"
            if reached
            else f"weak model did not reach the target accuracy {target:g} in {report.total_steps} "
            f"steps (validation accuracy {acc:.3f} at the end): its labels are the full training's"
        )
        log.info("%s", stopped)
    log.info(
        "weak-labeling all %d pool texts and the %d test texts once: cached, so that every run and "
        "sweep on this task (any budget) reuses them",
        len(pool_ids),
        len(test_ids),
    )
    pool_logits = predict(model, pool_ids, train_cfg.eval_batch_size, desc="weak-labeling pool")
    test_logits = predict(model, test_ids, train_cfg.eval_batch_size, desc="weak-labeling test")
    return WeakLabels(
        pool_probs=stored_probabilities(pool_logits),
        test_probs=stored_probabilities(test_logits),
        train_ids=split.used_ids,
        test_accuracy=float((predicted(test_logits) == task.test.labels).mean()),
        val_accuracy=float((predicted(pool_logits[split.val_ids]) == task.pool.labels[split.val_ids]).mean()),
        key=key,
        seconds=time.perf_counter() - start,
        truncated=encoder.truncated,
        stopped=stopped,
    )


def reserved(config, task: TaskData, me=None) -> np.ndarray | None:
    """The weak model's own examples, kept out of the elicitation pool (`--weak-pool clean`)."""
    split = weak_split(task, config.weak, config.task.data_seed)
    return split.used_ids if config.weak.weak_pool == "clean" else None


def build(setup: Setup) -> Fixed:
    cfg = setup.config
    with setup.phases("weak labels"):
        labels, notes = weak_labels(setup.task, cfg.task, cfg.weak, setup.results / "artifacts")
    source = Fixed(setup.me.name, setup.me.price, setup.limit, as_probs(labels.pool_probs), setup.offer)
    split = weak_split(setup.task, cfg.weak, cfg.task.data_seed)
    quality = (
        f"weak labeler {cfg.weak.weak_model} trained on {len(split.train_ids)} pool texts: "
        f"{labels.val_accuracy:.3f} accurate on its {len(split.val_ids)} pool validation texts"
    )
    test = as_probs(labels.test_probs, np.float64)
    source.info = WeakInfo(test, labels.key, (*notes, quality), labels.seconds)
    return source


def kept_out(config, me=None) -> tuple[str, str]:
    return (
        f"weak pool: {config.weak.weak_pool}",
        "or use --weak-pool paper to include the weak model's examples",
    )


def warm(config, task: TaskData, results: Path, me=None) -> None:
    weak_labels(task, config.task, config.weak, results / "artifacts")


register_source(
    SourceSpec(
        "trained",
        "weak",
        "weak labels from a small model fine-tuned on ground truth (the paper's; --weak-model ...)",
        build,
        reserved,
        kept_out=kept_out,
        warm=warm,
        needs_gold=True,
    )
)


def shuffle_errors(probs: np.ndarray, gold: np.ndarray, seed: int) -> np.ndarray:
    """The authors' shuffled-error weak labels (`vanilla_weak_labels.py`
    `--also_save_shuffled_error_labels`): the same error sizes (the probability off the gold
    class), permuted across examples, so that which examples are wrong is no longer salient. Two
    classes (P(1), (n,)): the multiset of errors is kept, and so is the accuracy (an example is
    wrong exactly where its error exceeds 0.5). K classes ((n, K)): an example's error goes to one
    other class drawn at random (a stated generalisation: with two classes, the other one)."""
    rng = np.random.default_rng(seed)
    if probs.ndim == 1:
        errors = np.abs(probs - gold)
        permuted = errors[rng.permutation(len(errors))]
        return np.where(gold == 1, 1 - permuted, permuted)
    gold = gold.astype(np.int64)
    n, k = probs.shape
    errors = 1 - probs[np.arange(n), gold]
    permuted = errors[rng.permutation(n)]
    other = (gold + rng.integers(1, k, n)) % k
    out = np.zeros_like(probs)
    out[np.arange(n), gold] = 1 - permuted
    out[np.arange(n), other] += permuted
    return out


def build_shuffled(setup: Setup) -> Fixed:
    """`trained` with its errors shuffled (pool and test apart, seeded by the data seed)."""
    cfg, task, seed = setup.config, setup.task, setup.config.task.data_seed
    source = build(setup)
    labels, _ = weak_labels(task, cfg.task, cfg.weak, setup.results / "artifacts")
    source.values = as_probs(shuffle_errors(labels.pool_probs, task.pool.labels.astype(float), seed))
    info = source.info
    test = as_probs(shuffle_errors(labels.test_probs, task.test.labels.astype(float), seed + 1), np.float64)
    note = "weak labels with their errors shuffled across examples (same error sizes, same accuracy)"
    source.info = WeakInfo(test, f"{info.key}-shuffled", (*info.notes, note), info.seconds)
    return source


register_source(
    SourceSpec(
        "trained-shuffled",
        "weak",
        "the trained weak labels with their errors permuted across examples (the authors' shuffled errors)",
        build_shuffled,
        reserved,
        kept_out=kept_out,
        warm=warm,
        needs_gold=True,
    )
)
