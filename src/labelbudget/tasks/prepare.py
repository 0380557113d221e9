"""Labeled texts, and how every task becomes a balanced test set plus a pool.

PROTOCOL, "Data": texts deduplicated, each split balanced 50/50 by undersampling, a balanced
held-out test set; the rest is the pool that weak and HQ labels are bought from. All seeded by
`TaskConfig.data_seed`, so every run of a sweep sees the same split.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from labelbudget.config import TaskConfig
from labelbudget.util.errors import UserError


@dataclass(frozen=True)
class Labeled:
    """Texts with binary ground-truth labels (1 = positive class)."""

    texts: list[str]
    labels: np.ndarray

    def __post_init__(self) -> None:
        assert len(self.texts) == len(self.labels)

    def __len__(self) -> int:
        return len(self.texts)

    def take(self, idx: np.ndarray) -> Labeled:
        return Labeled([self.texts[i] for i in idx], self.labels[idx])


@dataclass(frozen=True)
class TaskData:
    """A task ready to run: the held-out test set and the pool. Pool ids are indices into it."""

    name: str
    pool: Labeled
    test: Labeled
    notes: tuple[str, ...] = ()
    """What preparing the data did that a user should know (dropped rows, capped sizes)."""
    classes: tuple[str, str] = ("0", "1")
    """What labels 0 and 1 mean (from `--label-map` or the task), for the person who labels."""

    @property
    def gold(self) -> bool:
        """Whether the pool's labels are known (False for `--unlabeled`: -1 stands for unknown)."""
        return bool((self.pool.labels >= 0).all())

    @property
    def test_pending(self) -> bool:
        """Whether the test set still needs its labels from a person (`tasks.gold`)."""
        return bool((self.test.labels < 0).any())

    @property
    def fingerprint(self) -> str:
        """Hash of every text and label, stored with each record (provenance of the data)."""
        h = hashlib.sha256()
        for split in (self.pool, self.test):
            for text, label in zip(split.texts, split.labels, strict=True):
                h.update(f"{int(label)}\t{text}\n".encode())
        return h.hexdigest()[:16]


def check_binary(name: str, labels: np.ndarray, notes: list[str] | tuple[str, ...] = ()) -> None:
    """Refuse empty or one-class data with a message that says what to do (and what was
    dropped on the way, if anything)."""
    dropped = f" ({'; '.join(notes)})" if notes else ""
    if len(labels) == 0:
        raise UserError(f"task {name!r} has no examples{dropped}", "check the file, columns and label map")
    counts = np.bincount(labels.astype(int), minlength=2)
    if counts.min() == 0:
        only = int(np.argmax(counts))
        raise UserError(
            f"task {name!r} has only class {only} ({counts[only]} examples){dropped}; binary "
            "classification needs both",
            "check the label column and --label-map so that both 0 and 1 occur",
        )


MIN_PER_CLASS = 4
"""Fewest distinct examples per class a task may have: one test example and a pool of 3 per
class, the least a stage can train on (`budget.MIN_STAGE`)."""


def dedup(data: Labeled, rng: np.random.Generator) -> tuple[Labeled, int]:
    """Drop repeated texts, keeping one occurrence chosen at random; return how many were dropped."""
    order = rng.permutation(len(data))
    seen: set[str] = set()
    keep = []
    for i in order:
        if data.texts[i] not in seen:
            seen.add(data.texts[i])
            keep.append(i)
    keep_arr = np.sort(np.array(keep, dtype=int))
    return data.take(keep_arr), len(data) - len(keep_arr)


def balance(data: Labeled, rng: np.random.Generator, n_per_class: int | None = None) -> Labeled:
    """Undersample to equal class counts (PROTOCOL: each split balanced 50/50); shuffled."""
    by_class = [rng.permutation(np.flatnonzero(data.labels == c)) for c in (0, 1)]
    n = min(len(idx) for idx in by_class) if n_per_class is None else n_per_class
    return data.take(rng.permutation(np.concatenate([idx[:n] for idx in by_class])))


def stratified(data: Labeled, n: int, rng: np.random.Generator, name: str) -> tuple[Labeled, Labeled]:
    """(a test set of `n` in the data's own class mix, each class at least once; the rest)."""
    counts = np.bincount(data.labels, minlength=2)
    n1 = int(np.clip(round(n * counts[1] / counts.sum()), 1, n - 1))
    if n1 >= counts[1] or n - n1 >= counts[0]:
        raise UserError(
            f"task {name!r} has {counts[0]} examples of class 0 and {counts[1]} of class 1, too few "
            f"for a test set of {n} in that mix plus a pool",
            f"pass a smaller --test-size (at most {max(2, (len(data) // 2) & ~1)})",
        )
    picked = np.zeros(len(data), dtype=bool)
    for c, k in ((0, n - n1), (1, n1)):
        picked[rng.permutation(np.flatnonzero(data.labels == c))[:k]] = True
    return data.take(np.flatnonzero(picked)), data.take(np.flatnonzero(~picked))


def mix_note(before: Labeled, rest: Labeled, balanced: Labeled, n_test: int, test: Labeled) -> str:
    """What balancing kept, and which class mix the test set has."""
    c = np.bincount(rest.labels, minlength=2)
    t = np.bincount(test.labels, minlength=2)
    kept = (
        ""
        if len(balanced) == len(rest)
        else (
            f"balanced to 50/50 (PROTOCOL): kept {len(balanced):,} of {len(rest):,} distinct texts "
            f"({c[0]:,} of class 0, {c[1]:,} of class 1); "
        )
    )
    natural = np.bincount(before.labels, minlength=2)
    share = natural[1] / max(1, natural.sum())
    if t[0] == t[1]:
        mix = f"the test set is balanced ({t[0]} + {t[1]}; the data has {share:.0%} class 1: "
        mix += "--test-mix natural keeps that mix)"
    else:
        mix = f"the test set keeps the data's class mix ({t[0]} of class 0, {t[1]} of class 1)"
    return kept + mix


def own_test_split(test: Labeled, cfg: TaskConfig, rng: np.random.Generator, name: str) -> Labeled:
    """The test set drawn from a source's own test split (or `--test-file`): balanced, or in its
    own class mix with `--test-mix natural`."""
    half = cfg.test_size // 2
    check_binary(f"{name} (test split)", test.labels)
    test, _ = dedup(test, rng)
    counts = np.bincount(test.labels, minlength=2)
    if cfg.test_mix == "natural":
        return stratified(test, cfg.test_size, rng, f"{name} (test split)")[0]
    if counts.min() < half:
        raise UserError(
            f"task {name!r} has {counts.min()} test examples in its smaller class, too few "
            f"for a balanced test set of {cfg.test_size}",
            f"pass --test-size {2 * int(counts.min())} or less",
        )
    return balance(test, rng, n_per_class=half)


def unseen(texts: list[str], test: Labeled, test_file: str | None) -> np.ndarray:
    """Which of `texts` also occur in the test set (to drop from the pool); the user's own test
    file must share none (never silently cut)."""
    test_texts = set(test.texts)
    leaked = np.array([t in test_texts for t in texts], dtype=bool)
    if leaked.any() and test_file is not None:
        shown = next(t for t, x in zip(texts, leaked, strict=True) if x)
        raise UserError(
            f"--test-file {test_file} shares {int(leaked.sum())} texts with the task's pool "
            f"(e.g. {shown[:60]!r}): a test set must be unseen",
            "remove those texts from the task file or from the test file",
        )
    return leaked


def prepare(
    name: str,
    train: Labeled,
    test: Labeled | None,
    cfg: TaskConfig,
    notes: tuple[str, ...] = (),
    test_file: str | None = None,
) -> TaskData:
    """Deduplicate, balance, and split into a balanced test set (held out) and the pool.

    If the source has its own test split, the test set is drawn from it; otherwise it is held out
    of `train`. Texts that occur in both are removed from the pool, so test never leaks.
    """
    rng = np.random.default_rng(cfg.data_seed)
    notes = list(notes)
    check_binary(name, train.labels, notes)
    train, n_dup = dedup(train, rng)
    if n_dup:
        notes.append(f"dropped {n_dup} duplicate texts")
    half = cfg.test_size // 2
    natural = cfg.test_mix == "natural"
    if test is None and natural:
        test_split, rest = stratified(train, cfg.test_size, rng, name)
        pool = balance(rest, rng)
        notes.append(mix_note(train, rest, pool, cfg.test_size, test_split))
    elif test is None:
        balanced = balance(train, rng)
        per_class = len(balanced) // 2
        if per_class < MIN_PER_CLASS:
            counts = np.bincount(train.labels, minlength=2)
            raise UserError(
                f"task {name!r} has {len(train)} distinct texts ({counts[0]} of class 0, {counts[1]} "
                f"of class 1){f' after dropping {n_dup} repeated ones' if n_dup else ''}; at least "
                f"{MIN_PER_CLASS} distinct texts of each class are needed",
                "add distinct labeled examples of both classes to the file",
            )
        if per_class <= half:
            raise UserError(
                f"task {name!r} has {per_class} examples per class after balancing, too few for a "
                f"test set of {cfg.test_size} plus a pool",
                f"pass a smaller --test-size (at most {2 * (per_class - 1)})",
            )
        is_test = np.zeros(len(balanced), dtype=bool)
        for c in (0, 1):
            is_test[np.flatnonzero(balanced.labels == c)[:half]] = True
        test_split = balanced.take(np.flatnonzero(is_test))
        pool = balanced.take(np.flatnonzero(~is_test))
        notes.append(mix_note(train, train, balanced, cfg.test_size, test_split))
    else:
        test_split = own_test_split(test, cfg, rng, name)
        leaked = unseen(train.texts, test_split, test_file)
        if leaked.any():
            notes.append(f"dropped {int(leaked.sum())} pool texts that also occur in test")
        pool = balance(train.take(np.flatnonzero(~leaked)), rng)
    if cfg.max_pool is not None and len(pool) > cfg.max_pool:
        notes.append(f"pool capped at {cfg.max_pool} of {len(pool)} examples (--max-pool)")
        pool = pool.take(np.arange(cfg.max_pool))
    check_binary(f"{name} (pool)", pool.labels)
    return TaskData(name=name, pool=pool, test=test_split, notes=tuple(notes))
