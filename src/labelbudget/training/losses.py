"""Stage losses: soft cross-entropy, and the log-confidence auxiliary loss.

Each is a `Loss`: (logits, soft targets P(1), optimizer step) -> scalar mean over the examples
given. A loss whose value depends on which examples share a forward pass (log-confidence: its
prior and quantile are statistics of the micro-batch) says its micro-batch size; micro-batches
are always chunks of the randomly drawn batch in its drawn order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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
    """Cross-entropy against soft targets P(1): weak labels are used soft, not hardened."""
    target = torch.stack([1 - targets, targets], dim=-1)
    return -(target * F.log_softmax(logits.float(), dim=-1)).sum(-1).mean()


LOGCONF_MICRO_BATCH = 8
"""The authors ran log-confidence with micro-batches of 8 and 4 accumulation steps (an optimizer
batch of 32 as every other run); the prior and quantile are statistics of each micro-batch."""


def logconf_target(
    logits: torch.Tensor, targets: torch.Tensor, step: int, warmup: int = 200, max_coef: float = 0.5
) -> torch.Tensor:
    """The log-confidence target P(1) (Burns et al. 2023, as PROTOCOL states it):

    coef = 0.5 * min(1, step / 200), `step` counting optimizer steps; prior = mean weak label of
    the micro-batch (0.5 for a one-example micro-batch, as the authors' `w2s/loss.py`);
    threshold = the prior-quantile of the model's P(class 0); hardened = [p0 >= threshold,
    p0 < threshold] (no gradient); target = (1 - coef) * weak + coef * hardened.
    """
    coef = max_coef * min(1.0, step / warmup)
    with torch.no_grad():
        p0 = torch.softmax(logits.float(), dim=-1)[:, 0]
        prior = targets.float().mean() if len(targets) > 1 else torch.tensor(0.5)
        threshold = torch.quantile(p0, prior)
        hardened_p1 = (p0 < threshold).float()
    return (1 - coef) * targets.float() + coef * hardened_p1


xent = Loss(lambda logits, targets, step: soft_cross_entropy(logits, targets))
logconf = Loss(
    lambda logits, targets, step: soft_cross_entropy(logits, logconf_target(logits, targets, step)),
    micro_batch=LOGCONF_MICRO_BATCH,
)
LOSSES: dict[str, Loss] = {"xent": xent, "logconf": logconf}
