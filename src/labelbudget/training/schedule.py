"""How long a stage trains and when it stops: the paper's early-stopping schedule, the
OpenAI-API-like one, fixed epochs (the weak model), and the early-stopping rule itself.

Paper, Appendix A.1 / PROTOCOL "Sequential SFT": batch 32; epochs = max(20000 / n_train, 1);
linear warmup of min(40, steps per epoch) steps (at least 2) then cosine decay; evaluate every
min(50 steps, 1 epoch); stop after 4 evaluations without a validation-AUROC gain of 0.01.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from labelbudget.config import TrainConfig


@dataclass(frozen=True)
class Schedule:
    """How long a stage trains, and how often it evaluates."""

    batch_size: int
    total_steps: int
    warmup_steps: int
    eval_every: int | None
    """None: no early stopping and no validation during training (the final state is kept)."""

    @staticmethod
    def early_stopping(n_train: int, cfg: TrainConfig) -> Schedule:
        """The paper's schedule for SFT stages."""
        steps_per_epoch = math.ceil(n_train / cfg.batch_size)
        epochs = max(cfg.example_visits / n_train, 1.0)
        return Schedule(
            batch_size=cfg.batch_size,
            total_steps=math.ceil(epochs * steps_per_epoch),  # as transformers' Trainer rounds
            warmup_steps=max(min(cfg.max_warmup_steps, steps_per_epoch), 2),
            eval_every=min(cfg.eval_every, steps_per_epoch),
        )

    @staticmethod
    def openai(n: int) -> Schedule:
        """PROTOCOL 6, the OpenAI fine-tuning API's defaults as the scaling runs mimic them: no
        early stopping and no validation split; batch 1 (n < 1024), 2 (n < 4096), else 8; epochs
        ceil(100 / (n // batch)) if n < 30, 3 if n < 4096, 2 if n < 16384, else 1."""
        batch = 1 if n < 1024 else 2 if n < 4096 else 8
        if n < 30:
            epochs = math.ceil(100 / max(n // batch, 1))
        else:
            epochs = 3 if n < 4096 else 2 if n < 16384 else 1
        steps_per_epoch = math.ceil(n / batch)
        return Schedule(
            batch_size=batch,
            total_steps=epochs * steps_per_epoch,
            warmup_steps=max(min(40, steps_per_epoch), 2),
            eval_every=None,
        )

    @staticmethod
    def fixed_epochs(n_train: int, epochs: float, cfg: TrainConfig, evaluate: bool = False) -> Schedule:
        """A fixed number of epochs, no early stopping (the weak model: 3 epochs); with
        `evaluate`, evaluations every min(50 steps, an epoch) as the paper's stages (for a
        target accuracy)."""
        steps_per_epoch = math.ceil(n_train / cfg.batch_size)
        return Schedule(
            batch_size=cfg.batch_size,
            total_steps=math.ceil(epochs * steps_per_epoch),
            warmup_steps=max(min(cfg.max_warmup_steps, steps_per_epoch), 2),
            eval_every=min(cfg.eval_every, steps_per_epoch) if evaluate else None,
        )


class EarlyStopping:
    """Patience on a validation metric. The state kept is always the best one seen (as
    transformers' `load_best_model_at_end`); what resets the patience depends on `rule`:

    - `authors` (default; `EarlyStoppingCallback` in the authors' `w2s/sft_utils.py`): a
      reference score, set by the first evaluation, moves only when an evaluation beats it by at
      least `min_delta`; `patience` evaluations in a row that do not, stop. Slow steady gains
      (0.006 per evaluation) add up and never stop the stage.
    - `transformers` (transformers' own `EarlyStoppingCallback`): the reference is the best score
      seen, so every new best moves it, and new bests smaller than `min_delta` count as failures.
    """

    def __init__(self, patience: int, min_delta: float, rule: str = "authors"):
        self.patience, self.min_delta, self.rule = patience, min_delta, rule
        self.best = -math.inf
        self.reference = -math.inf
        self.bad = 0

    def update(self, metric: float) -> tuple[bool, bool]:
        """Record one evaluation; return (is new best, should stop)."""
        is_best = metric > self.best
        if self.reference == -math.inf or metric >= self.reference + self.min_delta:
            self.reference, self.bad = metric, 0
        else:
            self.bad += 1
        self.best = max(self.best, metric)
        if self.rule == "transformers":
            self.reference = self.best
        return is_best, self.bad >= self.patience
