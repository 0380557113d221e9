"""The method seam: an elicitation method is an estimator fitted on (weak labels, HQ labels, a
budget) that then scores inputs as log-odds. Each is one module plus one `register_method` line,
which declares the options it reads (`config.MethodOptions` fields; the others are no part of
its runs' identity).

A method buys labels only through its `Elicitation` context: from its label sources in stage
order (`ctx.sources`, the cheapest first; the paper's pair is `ctx.weak` and `ctx.oracle`), all
metered (`labels.sources`), so what a record says was spent is what was used.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from labelbudget.config import MethodOptions, RunConfig
from labelbudget.labels.budget import Allocation, check_stage_sizes
from labelbudget.labels.sources import LabelSource
from labelbudget.tasks import TaskData
from labelbudget.util.profiling import Phases
from labelbudget.util.registry import Registry


@dataclass
class Elicitation:
    """What a method may use: the run's config, the task's texts, and metered label sources."""

    config: RunConfig
    task: TaskData
    allocation: Allocation
    sources: list[LabelSource]
    """In stage order, the cheapest first: each sells labels of its own side of the pool."""
    sides: list[np.ndarray]
    """Per source, disjoint: the pool ids the cheapest sells in order, and the ids the dearer ones
    label when chosen (in random order)."""
    weak_stage_file: Path | None = None
    """Where runs with this run's weak stage save it and branch from it (sweeps), or None."""
    artifacts: Path | None = None
    """Folder of cached artifacts (weak labels, activations) this run may reuse."""
    phases: Phases = field(default_factory=Phases)
    """Where the run's time and memory go (stored with the record)."""

    @property
    def weak(self) -> LabelSource:
        """The cheapest source (the paper's weak labels), sold by count."""
        return self.sources[0]

    @property
    def oracle(self) -> LabelSource:
        """The most expensive source (the paper's HQ labels), for chosen pool ids."""
        return self.sources[-1]

    @property
    def hq_candidates(self) -> np.ndarray:
        """Pool ids disjoint from every other source's, in random order: the most expensive
        source's labels are bought among these."""
        return self.sides[-1]

    @hq_candidates.setter
    def hq_candidates(self, ids: np.ndarray) -> None:
        self.sides[-1] = ids

    @property
    def hq_left(self) -> int:
        """HQ labels the allocation still allows (some may have gone to demonstrations)."""
        return self.allocation.n_hq - self.oracle.sold

    def pool_texts(self, ids: np.ndarray) -> list[str]:
        return [self.task.pool.texts[i] for i in ids]

    def rng(self, purpose: int) -> np.random.Generator:
        """A generator for one purpose of this run (a `PURPOSE_*` below), independent of the others."""
        return np.random.default_rng([self.config.seed, purpose])


PURPOSE_PROMPTS, PURPOSE_SELECT, PURPOSE_WEAK_STAGE, PURPOSE_HQ_STAGE = 3, 4, 10, 11
"""Each random choice of a run draws from its own generator (`Elicitation.rng`): demonstration
orders, uncertainty sampling, and each stage's train/validation split and batch order (the
first stage's, the last's, and a middle stage i's `PURPOSE_HQ_STAGE + i`)."""


def stage_purpose(index: int, stages: int) -> int:
    """The generator of stage `index` of `stages`: the paper's weak and HQ stages as they were."""
    if index == stages - 1:
        return PURPOSE_HQ_STAGE
    return PURPOSE_WEAK_STAGE if index == 0 else PURPOSE_HQ_STAGE + index


def k_shot(config: RunConfig, default: int) -> int:
    """Demonstrations per prompt: `--k-shot`, else the method's default."""
    return config.options.k_shot or default


class Method(ABC):
    """fit() buys labels and trains (or not); score() returns log-odds of any texts."""

    def __init__(self) -> None:
        self.stages: list = []
        """Per-stage reports, stored with the record."""

    @property
    def notes(self) -> list[str]:
        """What a user should know about this fit (stored with the record)."""
        return []

    @classmethod
    def validate(cls, config: RunConfig, allocation: Allocation) -> None:
        """Refuse, before any work, a budget this method cannot use (UserError with a fix)."""
        openai = config.options.schedule == "openai"  # no validation split: 1 label can train
        check_stage_sizes(allocation, config, min_stage=1 if openai else None)

    @abstractmethod
    def fit(self, ctx: Elicitation) -> None: ...

    @abstractmethod
    def score(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class MethodSpec:
    name: str
    description: str
    cls: type[Method]
    reads: tuple[str, ...] = ()
    """The `MethodOptions` fields it reads."""
    weak_stage_of: str = ""
    """The method whose weak stage it runs (runs of both share it); default: its own."""
    learner: bool = True
    """Whether it trains a learner (`RunConfig.learner`); ICL trains nothing."""
    all_weak_is: str | None = None
    all_hq_is: str | None = None
    """The method whose run this one's is, exactly, at an all-weak (all-HQ) allocation:
    uncertainty sampling with no HQ label to choose is sequential SFT; the log-confidence loss
    with no weak stage is too. A sweep runs such a run once and stores it under both names
    (`runs.run.stored_twin`); the adaptive sweep counts it once."""

    def same_run_as(self, n_weak: int, n_hq: int) -> str:
        """The method whose run this method's is at this allocation (its own name but at an end
        declared above)."""
        if n_hq == 0 and n_weak > 0 and self.all_weak_is:
            return self.all_weak_is
        if n_weak == 0 and n_hq > 0 and self.all_hq_is:
            return self.all_hq_is
        return self.name


METHODS: Registry[MethodSpec] = Registry("method")


def register_method(
    name: str,
    description: str,
    cls: type[Method],
    reads: tuple[str, ...] = (),
    weak_stage_of: str | None = None,
    learner: bool = True,
    all_weak_is: str | None = None,
    all_hq_is: str | None = None,
) -> MethodSpec:
    unknown = set(reads) - {f.name for f in dataclasses.fields(MethodOptions)}
    if unknown:
        raise ValueError(f"method {name!r} reads options MethodOptions lacks: {sorted(unknown)}")
    spec = MethodSpec(name, description, cls, reads, weak_stage_of or name, learner, all_weak_is, all_hq_is)
    return METHODS.register(name, spec)


def get_method(name: str) -> MethodSpec:
    return METHODS.get_or_fail(name)
