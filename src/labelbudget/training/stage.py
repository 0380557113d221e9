"""One supervised training stage: the explicit loop behind every SFT method.

Paper, Appendix A.1 / PROTOCOL "Sequential SFT": soft-label cross-entropy; a fresh AdamW
(weight decay 0.01, beta2 0.95) per stage, since the Adam buffer must be re-estimated for new
data; linear warmup of min(40, steps per epoch) steps (at least 2; later epochs do not improve
the estimate) then cosine decay; batch 32; epochs = max(20000 / n_train, 1); evaluate every
min(50 steps, 1 epoch); stop after 4 evaluations without a validation-AUROC gain of 0.01; restore
the best state. As the authors' code ran it (EleutherAI/scalable-elicitation, HF Trainer): the
gradient norm is clipped at 1.0, and the early-stopping reference moves only on a gain of at least
0.01 (`EarlyStoppingCallback` in `w2s/sft_utils.py`).

Batches are uniform random draws of `batch_size` examples (an epoch is a random permutation).
A batch is one forward pass over its texts packed end to end in rows (`batching.pack`: the same
loss and gradients as a padded batch, without the padding), or, where `micro_batch` is smaller,
several whose gradients are accumulated: chunks in the drawn order (log-confidence: micro-batches
of 8, as the authors' 8 x 4 accumulation).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from labelbudget.config import TrainConfig
from labelbudget.labelspace import hard, predicted
from labelbudget.metrics import auroc
from labelbudget.models.packing import Encoded, micro_batches, random_batches, sorted_batches
from labelbudget.training.losses import Loss, soft_cross_entropy, xent
from labelbudget.training.schedule import EarlyStopping, Schedule
from labelbudget.util.profiling import MemoryGuard
from labelbudget.util.progress import progress


@dataclass(frozen=True)
class StageData:
    """Inputs and their soft targets, (n, K) class probabilities (weak labels' probabilities or
    one-hot HQ labels). Inputs are token ids (a fine-tuned model) or feature rows (a probe on
    cached activations): whatever the model's `batch_logits` takes."""

    ids: Encoded | torch.Tensor
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


def lengths_of(ids: Encoded | torch.Tensor) -> np.ndarray:
    """Tokens per input (feature rows all count as 1)."""
    if isinstance(ids, torch.Tensor):
        return np.ones(len(ids), dtype=np.int64)
    return np.array([len(x) for x in ids])


class Trainable(Protocol):
    """What a stage trains: a `Classifier` (LoRA + head) or a `ProbeHead` (a head on cached
    activations). `batch_logits(inputs, idx)` returns the chosen inputs' (n, K) logits. A model
    that reads tokens also has `token_counts()`: (real, processed) tokens since the last call."""

    def batch_logits(self, inputs, idx: np.ndarray) -> torch.Tensor: ...

    def trainable_state(self) -> dict[str, torch.Tensor]: ...

    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None: ...


@dataclass
class StageReport:
    """What happened in one stage; stored with the run's record."""

    name: str
    n_train: int
    n_val: int
    total_steps: int
    steps: int = 0
    evals: list[tuple[int, float]] = field(default_factory=list)
    best_step: int | None = None
    best_metric: float | None = None
    metric: str = "auroc"
    stopped_early: bool = False
    seconds: float = 0.0
    eval_seconds: float = 0.0
    """Of `seconds`, the time spent on validation."""
    real_tokens: int | None = None
    """Tokens the stage's training forward passes read (None: a probe reads feature rows)."""
    padded_tokens: int | None = None
    """Tokens they processed, padding included."""

    def add_tokens(self, real: int, padded: int) -> None:
        self.real_tokens = (self.real_tokens or 0) + real
        self.padded_tokens = (self.padded_tokens or 0) + padded


@torch.inference_mode()
def predict(
    model: Trainable, ids: Encoded | torch.Tensor, batch_size: int, desc: str = "scoring"
) -> np.ndarray:
    """(n, K) float32 logits of every input, batched by length."""
    was_training = model.training
    model.eval()
    out = None
    batches = sorted_batches(lengths_of(ids), batch_size)
    guard = MemoryGuard()
    for idx in progress(batches, desc=desc, leave=False, disable=None if len(batches) > 1 else True):
        logits = model.batch_logits(ids, idx).float().cpu().numpy()
        if out is None:
            out = np.empty((len(ids), logits.shape[1]), dtype=np.float32)
        out[idx] = logits
        guard()
    if out is None:  # no inputs
        out = np.empty((0, model.n_classes), dtype=np.float32)
    model.train(was_training)
    return out


def validation_metric(model: Trainable, val: StageData, batch_size: int) -> tuple[float, str]:
    """AUROC against the hardened targets (so the weak stage early-stops on AUROC vs weak
    labels; K classes: one-vs-rest macro, `metrics.auroc`). A validation split of one class has
    no AUROC: then minus the soft cross-entropy."""
    scores = predict(model, val.ids, batch_size, desc="validating")
    value = auroc(hard(val.targets), scores)
    if not math.isnan(value):
        return value, "auroc"
    shifted = torch.from_numpy(scores - scores[:, :1])  # two classes: [0, log-odds], as always
    return -float(soft_cross_entropy(shifted, torch.from_numpy(val.targets).float())), "-loss"


def train_stage(
    model: Trainable,
    train: StageData,
    val: StageData | None,
    schedule: Schedule,
    cfg: TrainConfig,
    lr: float,
    seed: int,
    name: str,
    loss: Loss = xent,
    target_accuracy: float | None = None,
) -> StageReport:
    """Train `model` in place for one stage; with early stopping, end in the best state. With a
    `target_accuracy` instead, stop at the first evaluation whose validation accuracy reaches it
    and keep that state (the authors' `AccuracyStoppingCallback`, `w2s/sft_utils.py`).

    Examples per forward pass: the loss's own micro-batch where it has one (log-confidence's 8,
    whatever the model), else `cfg.micro_batch`; the optimizer always steps on the whole batch
    of `schedule.batch_size`."""
    from transformers import get_cosine_schedule_with_warmup

    start = time.perf_counter()
    micro_batch = loss.micro_batch or cfg.micro_batch
    device = next(model.parameters()).device
    rng = np.random.default_rng(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    # One fused kernel per step on a GPU; the multi-tensor (foreach) path elsewhere.
    fused = device.type == "cuda"
    optimizer = torch.optim.AdamW(
        params, lr=lr, weight_decay=cfg.weight_decay, betas=(0.9, cfg.beta2), fused=fused or None
    )
    scheduler = get_cosine_schedule_with_warmup(optimizer, schedule.warmup_steps, schedule.total_steps)
    report = StageReport(name, len(train), 0 if val is None else len(val), schedule.total_steps)
    stopper = EarlyStopping(cfg.patience, cfg.min_delta, cfg.early_stopping)
    best_state = None
    counts = getattr(model, "token_counts", None)
    if counts:
        counts()  # start counting from this stage
    targets = torch.from_numpy(train.targets).float()
    lengths = lengths_of(train.ids)
    max_tokens = None if loss.micro_batch else cfg.micro_batch_tokens  # log-confidence: as the authors
    guard = MemoryGuard()
    batches: list[np.ndarray] = []
    model.train()
    bar = progress(total=schedule.total_steps, desc=f"{name} stage", leave=False, disable=None)
    for step in range(1, schedule.total_steps + 1):
        if not batches:
            batches = random_batches(len(train), schedule.batch_size, rng)
        batch = batches.pop()
        for idx in micro_batches(batch, micro_batch, lengths, max_tokens):
            logits = model.batch_logits(train.ids, idx)
            value = loss(logits, targets[idx].to(device), step)
            (value * (len(idx) / len(batch))).backward()  # the batch mean, accumulated
        if cfg.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        guard()
        report.steps = step
        bar.update()
        last = step == schedule.total_steps
        at_end = last and cfg.eval_last_step
        if schedule.eval_every and val is not None and (step % schedule.eval_every == 0 or at_end):
            eval_start = time.perf_counter()
            if counts:
                report.add_tokens(*counts())  # training tokens only
            if target_accuracy is None:
                metric, report.metric = validation_metric(model, val, cfg.eval_batch_size)
            else:
                scores = predict(model, val.ids, cfg.eval_batch_size, desc="validating")
                metric, report.metric = float(np.mean(predicted(scores) == hard(val.targets))), "accuracy"
            if counts:
                counts()
            report.eval_seconds += time.perf_counter() - eval_start
            report.evals.append((step, metric))
            if target_accuracy is None:
                is_best, stop = stopper.update(metric)
            else:  # the state at the stop, not the best one
                is_best, stop = False, metric >= target_accuracy
                report.best_step, report.best_metric = step, metric
            if is_best:
                best_state, report.best_step, report.best_metric = model.trainable_state(), step, metric
            bar.set_postfix(val=f"{metric:.3f}", best=f"{max(stopper.best, metric):.3f}")
            if stop and not last:
                report.stopped_early = True
                break
    bar.close()
    if best_state is not None:
        model.load_trainable_state(best_state)
    if counts:
        report.add_tokens(*counts())
    report.seconds = time.perf_counter() - start
    return report
