"""Stage losses: soft cross-entropy, and the log-confidence auxiliary loss.

Each is a `Loss`: ((n, K) logits, (n, K) soft targets, optimizer step) -> scalar mean over the
examples given. A loss whose value depends on which examples share a forward pass (log-confidence: its
prior and quantile are statistics of the micro-batch) says its micro-batch size; micro-batches
are always chunks of the randomly drawn batch in its drawn order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Loss:
    fn: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]
    micro_batch: int | None = None
    """Examples per forward pass this loss needs (None: any)."""

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor, step: int) -> torch.Tensor:
        return self.fn(logits, targets, step)


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against soft targets (n, K) of class probabilities: weak labels are used
    soft, not hardened."""
    return -(targets * F.log_softmax(logits.float(), dim=-1)).sum(-1).mean()


LOGCONF_MICRO_BATCH = 8
"""The authors ran log-confidence with micro-batches of 8 and 4 accumulation steps (an optimizer
batch of 32 as every other run); the prior and quantile are statistics of each micro-batch."""


def logconf_target(
    logits: torch.Tensor, targets: torch.Tensor, step: int, warmup: int = 200, max_coef: float = 0.5
) -> torch.Tensor:
    """The log-confidence target (n, K) (Burns et al. 2023, as PROTOCOL states it):
    target = (1 - coef) * weak + coef * hardened, coef = 0.5 * min(1, step / 200), `step`
    counting optimizer steps, the hardened labels taken without gradient.

    Two classes, exactly the authors' (`w2s/loss.py`): prior = mean weak P(1) of the micro-batch
    (0.5 for a one-example micro-batch); threshold = the prior-quantile of the model's P(class 0);
    hardened = [p0 >= threshold, p0 < threshold]. K classes (a stated generalisation, README):
    the hardened labels are the model's own most probable classes under the constraint that their
    mix matches the weak labels' mix in the micro-batch (counts by largest remainder of prior x n),
    assigned to maximise the sum of the model's log-probabilities (an assignment problem); with
    two classes this picks the same examples as the quantile rule, up to its interpolation."""
    coef = max_coef * min(1.0, step / warmup)
    targets = targets.float()
    with torch.no_grad():
        probs = torch.softmax(logits.float(), dim=-1)
        if logits.shape[-1] == 2:
            p1 = targets[:, 1]
            prior = p1.mean() if len(targets) > 1 else torch.tensor(0.5)
            threshold = torch.quantile(probs[:, 0], prior)
            target1 = (1 - coef) * p1 + coef * (probs[:, 0] < threshold).float()
            return torch.stack([1 - target1, target1], dim=-1)
        hardened = torch.zeros_like(probs)
        hardened[torch.arange(len(probs), device=probs.device), matched_mix(probs, targets)] = 1.0
    return (1 - coef) * targets + coef * hardened


def matched_mix(probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """A class per example: the mix of the weak labels (their mean, 1/K each for one example) as
    counts, assigned to maximise the sum of log-probabilities."""
    from scipy.optimize import linear_sum_assignment

    n, k = probs.shape
    device, probs, targets = probs.device, probs.detach().cpu(), targets.detach().cpu()  # a GPU's too
    prior = (targets.mean(0) if n > 1 else torch.full((k,), 1.0 / k)).double().numpy() * n
    counts = np.floor(prior).astype(int)
    counts[np.argsort(-(prior - counts), kind="stable")[: n - counts.sum()]] += 1
    slots = np.repeat(np.arange(k), counts)
    cost = -np.log(probs.double().numpy()[:, slots] + 1e-12)
    rows, cols = linear_sum_assignment(cost)
    out = np.empty(n, dtype=np.int64)
    out[rows] = slots[cols]
    return torch.from_numpy(out).to(device)


xent = Loss(lambda logits, targets, step: soft_cross_entropy(logits, targets))
logconf = Loss(
    lambda logits, targets, step: soft_cross_entropy(logits, logconf_target(logits, targets, step)),
    micro_batch=LOGCONF_MICRO_BATCH,
)
LOSSES: dict[str, Loss] = {"xent": xent, "logconf": logconf}
