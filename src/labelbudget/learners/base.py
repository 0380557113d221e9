"""The learner seam: what a sequential-SFT method trains, chosen by `RunConfig.learner`.

A method decides which labels to buy and in which stages to train on them; a learner is the
trainable model and how it reads texts. Every SFT method exists for every learner, with no class
per pair: `--method uncertainty --learner probe` is uncertainty sampling with a linear probe.

A learner `setup`s its model for a run, `encode`s texts into the inputs its model takes (token
ids, or feature rows), trains through `training.train_stage` (its `model` is a `Trainable`),
scores inputs as (n, K) logits (`predict`), and copies and restores what training changes (`state`,
`load_state`) for best-state restore, shared weak stages and paused runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from labelbudget.util.registry import Registry


class Learner(Protocol):
    model: Any
    """The `training.stage.Trainable` the stages train."""

    def setup(self, ctx) -> None:
        """Build the model for this run (seeded by the run's seed)."""
        ...

    def encode(self, texts: Sequence[str]) -> Any:
        """The model's inputs for these texts (any text, not only the task's)."""
        ...

    def lr(self, config) -> float: ...

    def predict(self, inputs: Any, desc: str = "scoring") -> np.ndarray:
        """(n, K) logits of encoded inputs."""
        ...

    @property
    def notes(self) -> list[str]: ...


class TrainableState:
    """`state`/`load_state` for learners whose model has `trainable_state()`."""

    model: Any

    def state(self) -> dict[str, torch.Tensor]:
        return self.model.trainable_state()

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        self.model.load_trainable_state(state)

    def score(self, texts: Sequence[str]) -> np.ndarray:
        return self.predict(self.encode(texts))


@dataclass(frozen=True)
class LearnerSpec:
    name: str
    description: str
    cls: type
    ignores: tuple[str, ...] = ()
    """Config fields (dotted) this learner never reads: no part of its runs' identity."""


LEARNERS: Registry[LearnerSpec] = Registry("learner")


def register_learner(name: str, description: str, cls: type, ignores: tuple[str, ...] = ()) -> LearnerSpec:
    return LEARNERS.register(name, LearnerSpec(name, description, cls, ignores))
