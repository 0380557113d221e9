"""Budget accounting: what a run may buy, and what it actually paid.

PROTOCOL, "Budget accounting": cost = n_weak * c + n_hq * 1 <= B; n_hq = int(f * B) and
n_weak = int((B - n_hq) / c); validation labels are paid for too (each stage's labels are split
train/validation with n_val = max(int(0.2 n), 2)); weak and HQ examples are disjoint; HQ labels
come only through an oracle that counts what it hands out, and that count is the HQ spend.

The labels themselves come from named sources (`labels.sources`), each with its own price; the
spend is what they metered, never a formula.
"""

from __future__ import annotations

import numpy as np

from labelbudget.allocation import EPS, Allocation, allocate, allocation_of, sources_of
from labelbudget.util.errors import UserError

__all__ = [
    "EPS",
    "MIN_STAGE",
    "Allocation",
    "allocate",
    "allocation_of",
    "check_stage_sizes",
    "partition_pool",
]

MIN_STAGE = 3
"""A training stage needs 2 validation labels (n_val >= 2) and at least 1 training label."""


def check_stage_sizes(alloc: Allocation, config, min_stage: int | None = None, what: str = "") -> None:
    """Refuse allocations whose non-empty stage cannot be split into train and validation
    (`min_stage` 1 for schedules without a validation split)."""
    min_stage = MIN_STAGE if min_stage is None else min_stage
    needs = f"a stage needs at least {min_stage}" + (
        " (2 for validation, 1 to train)" if min_stage == MIN_STAGE else ""
    )
    for name, n in alloc.counts:
        if not 0 < n < min_stage:
            continue
        if config.sources:
            raise UserError(
                f"budget ${config.budget:g} with --shares {' '.join(config.shares)} leaves {what}{n} "
                f"label(s) of {name} to train on; {needs}",
                f"raise --budget, or give {name} a share of 0 (no stage) or more of the budget",
            )
        shown, fix = ("weak", 1.0) if name == "weak" else ("HQ", 0.0)
        raise UserError(
            f"budget ${config.budget:g} with --hq-fraction {config.hq_fraction:g} and --weak-cost "
            f"{config.weak_cost:g} leaves {what}{n} {shown} label(s) to train on; {needs}",
            f"raise --budget, or set --hq-fraction {fix:g} to skip the {shown} stage "
            "(the other stage then gets the whole budget)",
        )
    if alloc.total == 0:
        cheapest = min(p for p in (s.price for s in sources_of(config)))
        raise UserError(
            f"budget ${config.budget:g} buys no labels at ${cheapest:g} a label", "raise --budget"
        )


def stage_split(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random train/validation positions of a stage's n paid labels: n_val = max(int(0.2 n), 2)."""
    n_val = max(int(0.2 * n), 2)
    order = rng.permutation(n)
    return order[n_val:], order[:n_val]


def partition_pool(
    n_pool: int, alloc: Allocation, rng: np.random.Generator, exclude: np.ndarray | None = None
) -> list[np.ndarray]:
    """Split the pool at random into one side per source, disjoint, in proportion to the counts
    (the authors' `load_cached_datasets` in `w2s/utils.py`: weak and HQ sides in proportion to
    n_weak : n_hq), each side at least as large as what it must supply; the sides in stage order.
    The cheapest source's labels are bought from its side in its random order; the others' are
    chosen from their sides (at random, or by uncertainty sampling).

    The sides of the dearer sources are the permutation's head, the most expensive first, and the
    cheapest side its tail read backwards, so the first n ids of the cheapest side depend only on
    the seed (runs buying the same weak labels can share their weak stage), and so do the first n
    candidates of the most expensive. Two sources: the paper's weak and HQ sides exactly."""
    allowed = np.arange(n_pool) if exclude is None else np.setdiff1d(np.arange(n_pool), exclude)
    order = rng.permutation(allowed)
    counts, total = alloc.values, alloc.total
    sides: list[np.ndarray] = []
    start = 0
    for i in range(len(counts) - 1, 0, -1):  # the dearer sources, the most expensive first
        size = 0 if total == 0 else round(len(order) * counts[i] / total)
        size = min(max(size, counts[i]), len(order) - start - sum(counts[:i]))
        sides.insert(0, order[start : start + size])
        start += size
    return [np.ascontiguousarray(order[start:][::-1]), *sides]
