"""A task without gold labels (`--unlabeled`): the user's texts, their labels unknown.

Every row is unlabeled (the label column, if any, is not read; -1 stands for "unknown"), so
nothing is balanced (balancing needs labels) and HQ labels can only come from a person
(`--oracle file`); weak labels come from a source that needs no gold (`column:`, `file:`,
`prompt:`). The test set is either the user's labeled `--test-file`, checked disjoint from the
pool, or `--test-size N` texts drawn at random from the file (so in its own class mix), held
out of the pool and labeled by the same person once for every run on the task
(`labels.person.test_labels`), their cost reported as evaluation spend, outside the budget.
"""

from __future__ import annotations

import numpy as np

from labelbudget.config import TaskConfig
from labelbudget.labelspace import TWO, LabelSpace
from labelbudget.tasks.prepare import Labeled, TaskData, dedup, own_test_split, unseen
from labelbudget.util.errors import UserError

UNKNOWN = -1


def hidden(data: Labeled) -> Labeled:
    """The same texts with their labels unknown."""
    return Labeled(data.texts, np.full(len(data), UNKNOWN, dtype=np.int64))


def prepare_unlabeled(
    name: str,
    texts: Labeled,
    test: Labeled | None,
    cfg: TaskConfig,
    notes: tuple[str, ...] = (),
    space: LabelSpace = TWO,
) -> TaskData:
    """Deduplicate, then hold out the test set: the labeled `test` (a `--test-file`) or a random
    sample of `cfg.test_size` texts whose labels a person gives later. The rest is the pool."""
    rng = np.random.default_rng(cfg.data_seed)
    notes = list(notes)
    texts, n_dup = dedup(hidden(texts), rng)
    if n_dup:
        notes.append(f"dropped {n_dup} duplicate texts")
    if test is not None:
        test_split = own_test_split(test, cfg, rng, name, space.k)
        pool = texts.take(np.flatnonzero(~unseen(texts.texts, test_split, cfg.test_file)))
        where = f"the test set is {len(test_split)} texts of --test-file {cfg.test_file}"
    else:
        if len(texts) < cfg.test_size + 3:
            raise UserError(
                f"task {name!r} has {len(texts)} distinct texts, too few for a test set of "
                f"{cfg.test_size} plus a pool",
                f"pass a smaller --test-size (at most {max(2, (len(texts) - 3) & ~1)}), or --test-file",
            )
        order = rng.permutation(len(texts))
        test_split, pool = texts.take(order[: cfg.test_size]), texts.take(np.sort(order[cfg.test_size :]))
        where = (
            f"the test set is {cfg.test_size} texts drawn at random (your data's own class mix), which "
            "you label once for every run (evaluation spend, outside the budget; --test-size sets "
            "how many: 1000 measures accuracy to about +-0.03, 200 to about +-0.07)"
        )
    if cfg.max_pool is not None and len(pool) > cfg.max_pool:
        notes.append(f"pool capped at {cfg.max_pool} of {len(pool)} examples (--max-pool)")
        pool = pool.take(np.arange(cfg.max_pool))
    notes.append(
        f"no gold labels (--unlabeled): a pool of {len(pool):,} texts, not balanced (their labels "
        f"are unknown); {where}"
    )
    return TaskData(name=name, pool=pool, test=test_split, notes=tuple(notes), space=space)
