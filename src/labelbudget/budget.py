"""Budget accounting: what a run may buy, and what it actually paid.

PROTOCOL, "Budget accounting": cost = n_weak * c + n_hq * 1 <= B; n_hq = int(f * B) and
n_weak = int((B - n_hq) / c); validation labels are paid for too (each stage's labels are split
train/validation with n_val = max(int(0.2 n), 2)); weak and HQ examples are disjoint; HQ labels
come only through an oracle that counts what it hands out, and that count is the HQ spend.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from labelbudget.errors import UserError

EPS = 1e-9
"""Float slack: int((64 - 32) / 0.1) must be 320, not 319 from 319.99999999999997."""

MIN_STAGE = 3
"""A training stage needs 2 validation labels (n_val >= 2) and at least 1 training label."""


@dataclass(frozen=True)
class Allocation:
    n_weak: int
    n_hq: int

    def cost(self, weak_cost: float) -> float:
        return self.n_weak * weak_cost + self.n_hq


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


def run_key(config) -> str:
    """A run's identity: its whole config with (budget, weak cost, HQ fraction) replaced by what
    they buy, (n_weak, n_hq). Two configs with one key are the same experiment: $16 at HQ
    fraction 0.05 buys no HQ label, exactly as all-weak; and an allocation's accuracy does not
    depend on the weak-label price, so it is run once and re-costed at every price (the authors'
    `notebooks/figures.ipynb`)."""
    from labelbudget.config import to_dict

    alloc = allocation_of(config)
    data = to_dict(config)
    for name in ("budget", "weak_cost", "hq_fraction"):
        del data[name]
    data["allocation"] = [alloc.n_weak, alloc.n_hq]
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


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


class Oracle(Protocol):
    """Where HQ labels come from. `count` is every label handed out: the HQ spend."""

    count: int
    pauses: bool
    """True if labels come from a person later (the run stops and resumes), not at once."""

    def label(self, ids: np.ndarray) -> np.ndarray: ...


class GroundTruthOracle:
    """Answers with the dataset's ground truth, counting every label and refusing repeats and
    anything beyond its allowance (so a run cannot overspend by construction)."""

    pauses = False
    """Answers at once (a `FileOracle` pauses the run for a person)."""

    def __init__(self, labels: np.ndarray, allowance: int):
        self._labels = labels
        self.allowance = allowance
        self.count = 0
        self.asked: set[int] = set()

    def label(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=int)
        repeated = self.asked.intersection(ids.tolist())
        if repeated or len(set(ids.tolist())) != len(ids):
            raise RuntimeError(f"oracle asked again for already-labeled ids {sorted(repeated)[:5]}")
        if self.count + len(ids) > self.allowance:
            raise RuntimeError(f"oracle allowance {self.allowance} exceeded")
        self.count += len(ids)
        self.asked.update(ids.tolist())
        return self._labels[ids].copy()
