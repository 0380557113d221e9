"""Labeled texts, and how every task becomes a balanced test set plus a pool.

PROTOCOL, "Data": texts deduplicated, each split balanced 50/50 by undersampling, a balanced
held-out test set; the rest is the pool that weak and HQ labels are bought from. With K classes
"balanced" is equal counts per class (as many as the smallest class allows, said in the notes).
All seeded by `TaskConfig.data_seed`, so every run of a sweep sees the same split.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from labelbudget.config import TaskConfig
from labelbudget.labelspace import TWO, LabelSpace
from labelbudget.util.errors import UserError


@dataclass(frozen=True)
class Labeled:
    """Texts with ground-truth class ids 0..K-1 (-1: unknown)."""

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
    space: LabelSpace = TWO
    """The task's classes, what they mean and what a person or a model is asked."""
    origin: Mapping[str, tuple[str, str]] = field(default_factory=dict, repr=False, compare=False)
    """text -> (its row's id in the user's file, the text as written there) (`tasks.files.origin`):
    how a labeling request names and shows a row; empty for a registered task (rows by position)."""

    def row(self, texts: list[str], i: int) -> tuple[str, str]:
        """(id, text) of row `i` of `texts` (the pool's or the test set's) as its file has it."""
        return self.origin.get(texts[i], (str(i), texts[i]))

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


def check_classes(name: str, labels: np.ndarray, k: int, notes: list[str] | tuple[str, ...] = ()) -> None:
    """Refuse empty data or data missing a class, with a message that says what to do (and what
    was dropped on the way, if anything)."""
    dropped = f" ({'; '.join(notes)})" if notes else ""
    if len(labels) == 0:
        raise UserError(f"task {name!r} has no examples{dropped}", "check the file, columns and label map")
    counts = np.bincount(labels.astype(int), minlength=k)
    if counts.min() == 0:
        absent = [c for c in range(k) if counts[c] == 0]
        present = ", ".join(f"class {c}: {counts[c]}" for c in range(k) if counts[c])
        raise UserError(
            f"task {name!r} has no examples of class {', '.join(map(str, absent))} ({present}){dropped}; "
            f"classification into {k} classes needs every one",
            "check the label column and --label-map so that every class occurs",
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


def balance(data: Labeled, rng: np.random.Generator, k: int, n_per_class: int | None = None) -> Labeled:
    """Undersample to equal class counts (PROTOCOL: each split balanced 50/50); shuffled."""
    by_class = [rng.permutation(np.flatnonzero(data.labels == c)) for c in range(k)]
    n = min(len(idx) for idx in by_class) if n_per_class is None else n_per_class
    return data.take(rng.permutation(np.concatenate([idx[:n] for idx in by_class])))


def stratified(data: Labeled, n: int, rng: np.random.Generator, name: str, k: int) -> tuple[Labeled, Labeled]:
    """(a test set of `n` in the data's own class mix, each class at least once; the rest): class
    c > 0 gets round(n x its share), class 0 the remainder."""
    counts = np.bincount(data.labels, minlength=k)
    take = [0] + [int(np.clip(round(n * counts[c] / counts.sum()), 1, n - 1)) for c in range(1, k)]
    take[0] = n - sum(take)
    if take[0] < 1 or any(take[c] >= counts[c] for c in range(k)):
        shown = ", ".join(f"{counts[c]} of class {c}" for c in range(k))
        raise UserError(
            f"task {name!r} has {shown}, too few for a test set of {n} in that mix plus a pool",
            f"pass a smaller --test-size (at most {max(2, (len(data) // 2) & ~1)})",
        )
    picked = np.zeros(len(data), dtype=bool)
    for c, m in enumerate(take):
        picked[rng.permutation(np.flatnonzero(data.labels == c))[:m]] = True
    return data.take(np.flatnonzero(picked)), data.take(np.flatnonzero(~picked))


def mix_note(before: Labeled, rest: Labeled, balanced: Labeled, test: Labeled, k: int) -> str:
    """What balancing kept, and which class mix the test set has."""
    c = np.bincount(rest.labels, minlength=k)
    t = np.bincount(test.labels, minlength=k)
    counts = ", ".join(f"{c[i]:,} of class {i}" for i in range(k))
    kept = (
        ""
        if len(balanced) == len(rest)
        else (
            f"balanced to {'50/50' if k == 2 else 'equal counts per class'} (PROTOCOL): kept "
            f"{len(balanced):,} of {len(rest):,} distinct texts ({counts}); "
        )
    )
    natural = np.bincount(before.labels, minlength=k)
    if len(set(t)) == 1:
        shares = (
            f"{natural[1] / max(1, natural.sum()):.0%} class 1"
            if k == 2
            else ("classes " + "/".join(f"{x / max(1, natural.sum()):.0%}" for x in natural))
        )
        mix = f"the test set is balanced ({' + '.join(str(x) for x in t)}; the data has {shares}: "
        mix += "--test-mix natural keeps that mix)"
    else:
        mix = (
            "the test set keeps the data's class mix ("
            + ", ".join(f"{t[i]} of class {i}" for i in range(k))
            + ")"
        )
    return kept + mix


def own_test_split(test: Labeled, cfg: TaskConfig, rng: np.random.Generator, name: str, k: int) -> Labeled:
    """The test set drawn from a source's own test split (or `--test-file`): balanced, or in its
    own class mix with `--test-mix natural`."""
    per = cfg.test_size // k
    check_classes(f"{name} (test split)", test.labels, k)
    test, _ = dedup(test, rng)
    counts = np.bincount(test.labels, minlength=k)
    if cfg.test_mix == "natural":
        return stratified(test, cfg.test_size, rng, f"{name} (test split)", k)[0]
    if counts.min() < per:
        raise UserError(
            f"task {name!r} has {counts.min()} test examples in its smallest class, too few "
            f"for a balanced test set of {cfg.test_size}",
            f"pass --test-size {k * int(counts.min())} or less",
        )
    return balance(test, rng, k, n_per_class=per)


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
    space: LabelSpace = TWO,
) -> TaskData:
    """Deduplicate, balance, and split into a balanced test set (held out) and the pool.

    If the source has its own test split, the test set is drawn from it; otherwise it is held out
    of `train`. Texts that occur in both are removed from the pool, so test never leaks. With K
    classes a balanced test set has test_size // K texts of each class (said where that is fewer
    than asked).
    """
    rng = np.random.default_rng(cfg.data_seed)
    notes = list(notes)
    k = space.k
    check_classes(name, train.labels, k, notes)
    train, n_dup = dedup(train, rng)
    if n_dup:
        notes.append(f"dropped {n_dup} duplicate texts")
    per = cfg.test_size // k
    if cfg.test_size % k and cfg.test_mix == "balanced":
        notes.append(
            f"a balanced test set of {k} classes: {per} of each, {per * k} texts "
            f"(--test-size {cfg.test_size})"
        )
    natural = cfg.test_mix == "natural"
    if test is None and natural:
        test_split, rest = stratified(train, cfg.test_size, rng, name, k)
        pool = balance(rest, rng, k)
        notes.append(mix_note(train, rest, pool, test_split, k))
    elif test is None:
        balanced = balance(train, rng, k)
        per_class = len(balanced) // k
        if per_class < MIN_PER_CLASS:
            counts = np.bincount(train.labels, minlength=k)
            shown = ", ".join(f"{counts[c]} of class {c}" for c in range(k))
            raise UserError(
                f"task {name!r} has {len(train)} distinct texts ({shown})"
                f"{f' after dropping {n_dup} repeated ones' if n_dup else ''}; at least "
                f"{MIN_PER_CLASS} distinct texts of each class are needed",
                "add distinct labeled examples of every class to the file",
            )
        if per_class <= per:
            raise UserError(
                f"task {name!r} has {per_class} examples per class after balancing, too few for a "
                f"test set of {cfg.test_size} plus a pool",
                f"pass a smaller --test-size (at most {k * (per_class - 1)})",
            )
        is_test = np.zeros(len(balanced), dtype=bool)
        for c in range(k):
            is_test[np.flatnonzero(balanced.labels == c)[:per]] = True
        test_split = balanced.take(np.flatnonzero(is_test))
        pool = balanced.take(np.flatnonzero(~is_test))
        notes.append(mix_note(train, train, balanced, test_split, k))
    else:
        test_split = own_test_split(test, cfg, rng, name, k)
        leaked = unseen(train.texts, test_split, test_file)
        if leaked.any():
            notes.append(f"dropped {int(leaked.sum())} pool texts that also occur in test")
        pool = balance(train.take(np.flatnonzero(~leaked)), rng, k)
    if cfg.max_pool is not None and len(pool) > cfg.max_pool:
        notes.append(f"pool capped at {cfg.max_pool} of {len(pool)} examples (--max-pool)")
        pool = pool.take(np.arange(cfg.max_pool))
    check_classes(f"{name} (pool)", pool.labels, k)
    return TaskData(name=name, pool=pool, test=test_split, notes=tuple(notes), space=space)
