"""Uncertainty sampling (PROTOCOL method 4): after the weak stage, the model scores the HQ
candidates and the n_hq with the highest prediction entropy (over the K classes) are sent to the
oracle. Temperature
0: top-k by entropy, then shuffled; T > 0: sampled without replacement with weights
entropy**(1/T). The labels are requested between the stages, from a counting oracle or a person
(`--oracle file`)."""

from __future__ import annotations

import numpy as np

from labelbudget.methods.base import PURPOSE_SELECT, Elicitation, register_method
from labelbudget.methods.seq_sft import SFT_OPTIONS, SequentialSFT


def entropy(logits: np.ndarray) -> np.ndarray:
    """Entropy (nats) of the predicted class distribution, from (n, K) logits in float64."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return -(np.exp(log_p) * log_p).sum(axis=-1)


def choose_uncertain(entropy: np.ndarray, n: int, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """Positions of the n examples to label, by the paper's rule."""
    n = min(n, len(entropy))
    if temperature == 0:
        top = np.argsort(-entropy, kind="stable")[:n]
        return rng.permutation(top)
    weights = np.power(np.maximum(entropy, 0.0), 1 / temperature) + 1e-12  # every example stays drawable
    return rng.choice(len(entropy), size=n, replace=False, p=weights / weights.sum())


class UncertaintySampling(SequentialSFT):
    def select_hq(self, ctx: Elicitation) -> np.ndarray:
        n_hq = ctx.hq_left
        if n_hq == 0:
            return ctx.hq_candidates[:0]
        options = ctx.config.options
        candidates = ctx.hq_candidates[: options.max_candidates]  # already in random order
        scores = self.learner.predict(self.features(ctx, candidates), desc="scoring HQ candidates")
        uncertain = entropy(scores)
        return candidates[choose_uncertain(uncertain, n_hq, options.temperature, ctx.rng(PURPOSE_SELECT))]


register_method(
    "uncertainty",
    "sequential SFT whose HQ examples are the weak-stage model's most uncertain (entropy; --temperature)",
    UncertaintySampling,
    reads=(*SFT_OPTIONS, "temperature", "max_candidates"),
    weak_stage_of="seq_sft",  # its weak stage is sequential SFT's: runs of both share it
    all_weak_is="seq_sft",  # no HQ label to choose: the weak stage is the whole run
)
