"""Stage losses: soft cross-entropy, and the log-confidence auxiliary loss.

Each is a `Loss`: (logits, soft targets P(1), step) -> scalar. The step lets a loss warm up.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Loss = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against soft targets P(1): weak labels are used soft, not hardened."""
    target = torch.stack([1 - targets, targets], dim=-1)
    return -(target * F.log_softmax(logits.float(), dim=-1)).sum(-1).mean()


def xent(logits: torch.Tensor, targets: torch.Tensor, step: int) -> torch.Tensor:
    return soft_cross_entropy(logits, targets)


LOGCONF_BATCH = 8
"""PROTOCOL: the log-confidence loss is computed over minibatches of 8 (its prior and quantile
are minibatch statistics)."""


def logconf_target(
    logits: torch.Tensor, targets: torch.Tensor, step: int, warmup: int = 200, max_coef: float = 0.5
) -> torch.Tensor:
    """The log-confidence target P(1) (Burns et al. 2023, as PROTOCOL states it):

    coef = 0.5 * min(1, step / 200); prior = mean weak label of the minibatch; threshold = the
    prior-quantile of the model's P(class 0); hardened = [p0 >= threshold, p0 < threshold] (no
    gradient); target = (1 - coef) * weak + coef * hardened.
    """
    coef = max_coef * min(1.0, step / warmup)
    with torch.no_grad():
        p0 = torch.softmax(logits.float(), dim=-1)[:, 0]
        prior = targets.float().mean()
        threshold = torch.quantile(p0, prior)
        hardened_p1 = (p0 < threshold).float()
    return (1 - coef) * targets.float() + coef * hardened_p1


def logconf(logits: torch.Tensor, targets: torch.Tensor, step: int) -> torch.Tensor:
    """Cross-entropy against the log-confidence target."""
    return soft_cross_entropy(logits, logconf_target(logits, targets, step))


LOSSES: dict[str, Loss] = {"xent": xent, "logconf": logconf}
