"""Budget accounting: what a run may buy, and what it actually paid.

PROTOCOL, "Budget accounting": cost = n_weak * c + n_hq * 1 <= B; n_hq = int(f * B) and
n_weak = int((B - n_hq) / c); validation labels are paid for too (each stage's labels are split
train/validation with n_val = max(int(0.2 n), 2)); weak and HQ examples are disjoint; HQ labels
come only through an oracle that counts what it hands out, and that count is the HQ spend.

The labels themselves come from named sources (`labels.sources`), each with its own price; the
spend is what they metered, never a formula.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from labelbudget.util.errors import UserError

EPS = 1e-9
"""Float slack: int((64 - 32) / 0.1) must be 320, not 319 from 319.99999999999997."""

MIN_STAGE = 3
"""A training stage needs 2 validation labels (n_val >= 2) and at least 1 training label."""


@dataclass(frozen=True)
class Allocation:
    """How many labels a run buys from each label source. The paper's analysis is two-sided
    (weak and HQ); further sources, each with its own price, go in `others`."""

    n_weak: int
    n_hq: int
    others: tuple[tuple[str, int], ...] = ()
    """(source name, count) of labels bought from sources other than "weak" and "hq"."""

    @property
    def counts(self) -> dict[str, int]:
        return {"weak": self.n_weak, "hq": self.n_hq, **dict(self.others)}

    def cost(self, prices: float | Mapping[str, float]) -> float:
        """What the allocation costs at these prices per label (a float: the weak price, with
        HQ labels at $1)."""
        if not isinstance(prices, Mapping):
            prices = {"weak": prices, "hq": 1.0}
        return sum(n * prices[name] for name, n in self.counts.items() if n)


def allocate(budget: float, weak_cost: float, hq_fraction: float) -> Allocation:
    """The paper's split of a budget: n_hq = int(f * B), n_weak = int((B - n_hq) / c)."""
    n_hq = math.floor(hq_fraction * budget + EPS)
    n_weak = math.floor((budget - n_hq) / weak_cost + EPS)
    alloc = Allocation(n_weak, n_hq)
    assert alloc.cost(weak_cost) <= budget + EPS * max(1.0, budget)
    return alloc


def allocation_of(config) -> Allocation:
    """What a run config buys."""
    return allocate(config.budget, config.weak_cost, config.hq_fraction)


def check_stage_sizes(
    alloc: Allocation,
    budget: float,
    weak_cost: float,
    hq_fraction: float,
    min_stage: int | None = None,
    what: str = "",
) -> None:
    """Refuse allocations whose non-empty stage cannot be split into train and validation
    (`min_stage` 1 for schedules without a validation split)."""
    min_stage = MIN_STAGE if min_stage is None else min_stage
    for name, n, fix_fraction in (("weak", alloc.n_weak, 1.0), ("HQ", alloc.n_hq, 0.0)):
        if 0 < n < min_stage:
            raise UserError(
                f"budget ${budget:g} with --hq-fraction {hq_fraction:g} and --weak-cost {weak_cost:g} "
                f"leaves {what}{n} {name} label(s) to train on; a stage needs at least {min_stage}"
                + (" (2 for validation, 1 to train)" if min_stage == MIN_STAGE else ""),
                f"raise --budget, or set --hq-fraction {fix_fraction:g} to skip the {name} stage "
                "(the other stage then gets the whole budget)",
            )
    if alloc.n_weak == 0 and alloc.n_hq == 0:
        raise UserError(f"budget ${budget:g} buys no labels at weak cost ${weak_cost:g}", "raise --budget")


def stage_split(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random train/validation positions of a stage's n paid labels: n_val = max(int(0.2 n), 2)."""
    n_val = max(int(0.2 * n), 2)
    order = rng.permutation(n)
    return order[n_val:], order[:n_val]


def partition_pool(
    n_pool: int, alloc: Allocation, rng: np.random.Generator, exclude: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Split the pool at random into a weak side and an HQ side, disjoint, in proportion to
    n_weak : n_hq (the authors' `load_cached_datasets` in `w2s/utils.py`), each side at least as
    large as what it must supply. Weak labels are bought from the weak side in its random order;
    HQ labels are chosen from the HQ side only (at random, or by uncertainty sampling).

    The HQ side is the permutation's head and the weak side its tail read backwards, so the
    first n weak ids depend only on the seed (runs buying the same weak labels can share their
    weak stage), and so do the first n HQ candidates."""
    allowed = np.arange(n_pool) if exclude is None else np.setdiff1d(np.arange(n_pool), exclude)
    order = rng.permutation(allowed)
    total = alloc.n_weak + alloc.n_hq
    n_hq_side = 0 if total == 0 else round(len(order) * alloc.n_hq / total)
    n_hq_side = min(max(n_hq_side, alloc.n_hq), len(order) - alloc.n_weak)
    return np.ascontiguousarray(order[n_hq_side:][::-1]), order[:n_hq_side]
