"""Elicitation methods: estimators fitted on (weak labels, an oracle, a budget) that then score
inputs as log-odds. Each is one module plus one `register_method` line.

A method buys labels only through its `Elicitation` context: weak labels from `ctx.weak` and HQ
labels from `ctx.oracle`, both metered, so what a record says was spent is what was used.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from labelbudget.batching import Encoder
from labelbudget.budget import Allocation, Oracle, check_stage_sizes
from labelbudget.config import RunConfig
from labelbudget.errors import UserError
from labelbudget.profiling import Phases
from labelbudget.tasks import TaskData


class WeakLabelSeller:
    """Sells weak labels of a fixed random subset of the pool, counting what it sells."""

    def __init__(self, ids: np.ndarray, probs: np.ndarray):
        self._ids, self._probs = ids, probs
        self.count = 0

    def buy(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The next n weak-labeled pool ids and their P(1)."""
        if self.count + n > len(self._ids):
            raise RuntimeError(f"only {len(self._ids) - self.count} weak labels left to buy")
        sold = self._ids[self.count : self.count + n]
        self.count += n
        return sold, self._probs[sold]


@dataclass
class Elicitation:
    """What a method may use: the run's config, the task's texts, and metered label sources."""

    config: RunConfig
    task: TaskData
    allocation: Allocation
    weak: WeakLabelSeller
    oracle: Oracle
    hq_candidates: np.ndarray
    """Pool ids disjoint from every weak id, in random order: HQ labels are bought among these."""
    shared: Path | None = None
    """Folder of saved weak stages that runs with the same weak stage branch from (sweeps)."""
    artifacts: Path | None = None
    """Folder of cached artifacts (weak labels, activations) this run may reuse."""
    phases: Phases = field(default_factory=Phases)
    """Where the run's time and memory go (stored with the record)."""

    @property
    def hq_left(self) -> int:
        """HQ labels the allocation still allows (some may have gone to demonstrations)."""
        return self.allocation.n_hq - self.oracle.count

    def pool_texts(self, ids: np.ndarray) -> list[str]:
        return [self.task.pool.texts[i] for i in ids]

    def rng(self, purpose: int) -> np.random.Generator:
        """A generator for one purpose of this run (a `PURPOSE_*` below), independent of the others."""
        return np.random.default_rng([self.config.seed, purpose])


PURPOSE_PROMPTS, PURPOSE_SELECT, PURPOSE_WEAK_STAGE, PURPOSE_HQ_STAGE = 3, 4, 10, 11
"""Each random choice of a run draws from its own generator (`Elicitation.rng`): demonstration
orders, uncertainty sampling, and each stage's train/validation split and batch order."""


def k_shot(config: RunConfig, default: int) -> int:
    """Demonstrations per prompt: `--k-shot`, else the method's default."""
    return config.options.k_shot or default


class Method(ABC):
    """fit() buys labels and trains (or not); score() returns test log-odds."""

    def __init__(self) -> None:
        self.stages: list = []
        """Per-stage reports, stored with the record."""
        self.encoder: Encoder | None = None
        """Tokenizes the method's inputs; counts truncations."""

    @property
    def notes(self) -> list[str]:
        """What a user should know about this fit (stored with the record)."""
        note = self.encoder.note if self.encoder else None
        return [note] if note else []

    @classmethod
    def validate(cls, config: RunConfig, allocation: Allocation) -> None:
        """Refuse, before any work, a budget this method cannot use (UserError with a fix)."""
        openai = config.options.schedule == "openai"  # no validation split: 1 label can train
        check_stage_sizes(
            allocation, config.budget, config.weak_cost, config.hq_fraction, min_stage=1 if openai else None
        )

    @abstractmethod
    def fit(self, ctx: Elicitation) -> None: ...

    @abstractmethod
    def score(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class MethodSpec:
    name: str
    description: str
    cls: type[Method]


METHODS: dict[str, MethodSpec] = {}


def register_method(name: str, description: str, cls: type[Method]) -> None:
    METHODS[name] = MethodSpec(name, description, cls)


def get_method(name: str) -> MethodSpec:
    if name not in METHODS:
        raise UserError(f"unknown method {name!r}", f"use one of {', '.join(sorted(METHODS))}")
    return METHODS[name]


# Each module registers itself.
from labelbudget.methods import icl, logconf, probe, prompted, seq_sft, uncertainty  # noqa: E402,F401
